"""Locate the open FPGA tools (Yosys, nextpnr, IceStorm) and fail clearly when one is missing."""

from __future__ import annotations

import shutil
import subprocess

from ...sw.errors import QnnforgeError

__all__ = ["ToolMissingError", "find_tool", "tool_version"]

_INSTALL_HINTS = {
    "yosys": "apt-get install yosys (or run 'make bootstrap')",
    "nextpnr-ice40": "apt-get install nextpnr-ice40 (or run 'make bootstrap')",
    "nextpnr-ecp5": "apt-get install nextpnr-ecp5",
    "icepack": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "icetime": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "ecppack": "apt-get install prjtrellis",
}


class ToolMissingError(QnnforgeError, RuntimeError):
    """An external tool that a step needs is not installed."""


def find_tool(name: str) -> str:
    """Return the path of the executable ``name``.

    Raises
    ------
    ToolMissingError
        If ``name`` is not on ``PATH``; the message says how to install it.
    """
    path = shutil.which(name)
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
