"""Subcommands of the ``qnnforge`` command line, one module each.

Each module named in :data:`COMMANDS` defines ``register(subparsers)``, which adds its parser and
sets ``func`` to a ``run(args) -> int`` function.
"""

COMMANDS = (
    "train",
    "generate",
    "verify",
    "demo",
    "build",
    "run",
    "cost",
    "sensitivity",
    "import_onnx",
    "export",
    "predict",
    "search",
    "summary",
)
