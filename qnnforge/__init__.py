"""qnnforge: quantized neural networks from PyTorch to FPGA hardware, no vendor tool in the loop.

The subpackages are ``qnnforge.sw`` (training, export, artifact, integer reference),
``qnnforge.hw`` (Amaranth generators), ``qnnforge.sim`` (cocotb + Verilator verification) and
``qnnforge.boards`` (board top-levels and builds). Importing this package imports none of them;
the names below are loaded on first use so that ``qnnforge.hw`` never pulls in torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Artifact": "qnnforge.sw.artifact",
    "ArtifactError": "qnnforge.sw.artifact",
    "load_artifact": "qnnforge.sw.artifact",
    "Encoding": "qnnforge.sw.encoding",
    "reference": "qnnforge.sw",
    "generate": "qnnforge.hw.compiler.generate",
    "Folding": "qnnforge.hw.compiler.folding",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qnnforge' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return getattr(module, name) if name != "reference" else importlib.import_module(
        "qnnforge.sw.reference")
