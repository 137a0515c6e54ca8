"""The ``qnnforge`` command line: ``qnnforge <command> [options]``; see ``qnnforge --help``."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .commands import COMMANDS

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="qnnforge",
        description="Quantized neural networks from PyTorch to FPGA hardware: train, export, "
                    "generate Amaranth HDL, verify bit-exactly in Verilator, synthesize.")
    parser.add_argument("--version", action="version", version=f"qnnforge {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    from .errors import report_errors
    from .sw.files import sigterm_as_exit

    args = build_parser().parse_args(argv)
    with sigterm_as_exit(), report_errors() as outcome:
        outcome.status = args.func(args)
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
