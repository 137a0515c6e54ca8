"""Logic synthesis with Yosys: resource counts (LUT, FF, carry, BRAM, DSP) per FPGA fabric.

Uses the system Yosys with the script and cell classes of the fabric's
:class:`~qnnforge.hw.tools.fabrics.Fabric` (``synth_ice40``, ``synth_xilinx -family xc7``,
``synth_ecp5``); the WebAssembly Yosys that Amaranth bundles is only used to emit Verilog.
:data:`FABRICS` is the fabric registry of :mod:`~qnnforge.hw.tools.fabrics`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...sw.errors import QnnforgeError
from .fabrics import FABRICS, Fabric, get_fabric
from .toolchain import find_tool

__all__ = ["FABRICS", "Resources", "SynthesisError", "counting_scheme", "run_yosys",
           "synthesize"]


class SynthesisError(QnnforgeError, RuntimeError):
    """Yosys failed; the message holds the end of its log."""


@dataclass(frozen=True)
class Resources:
    """Cell counts of one synthesized design on one fabric.

    ``lut`` counts the LUTs inside carry cells too where a carry cell holds them (ECP5's
    CCU2C: two LUT4s each); ``carry`` counts the carry cells.
    """

    fabric: str
    lut: int
    ff: int
    carry: int
    bram: int
    dsp: int
    lutram: int = 0
    cells: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_cells(cls, fabric: Fabric, cells: dict[str, int]) -> Resources:
        """Return the counts of ``cells`` (cell type to number) classified by ``fabric``."""
        counts = fabric.count(cells)
        return cls(fabric=fabric.name, lut=counts["lut"], ff=counts["ff"],
                   carry=counts["carry"], bram=counts["bram"], dsp=counts["dsp"],
                   lutram=counts.get("lutram", 0), cells=dict(sorted(cells.items())))


def counting_scheme(fabric: str) -> str:
    """Return a digest of how ``fabric`` is synthesized and counted (script and cell classes),
    for caches of results: it changes whenever either does.

    Raises
    ------
    ValueError
        If ``fabric`` is unknown.
    """
    return get_fabric(fabric).scheme()


def run_yosys(verilog: str | os.PathLike, top: str, fabric: str, commands: str, stat: str,
              log: str | os.PathLike | None = None, timeout: float = 1800) -> str:
    """Run Yosys on ``verilog`` with ``commands``, then ``stat`` into a file; return its text.

    Raises
    ------
    ToolMissingError
        If Yosys is not installed.
    SynthesisError
        If Yosys fails or writes no statistics; the message ends with the last lines of its log.
    """
    yosys = find_tool("yosys")
    with tempfile.TemporaryDirectory(prefix="qnnforge-synth-") as scratch:
        stat_path = Path(scratch) / "stat.json"
        log_path = Path(log) if log is not None else Path(scratch) / "yosys.log"
        script = (f"read_verilog -sv {Path(verilog).resolve()}; {commands}; "
                  f"tee -q -o {stat_path} {stat}")
        result = subprocess.run([yosys, "-q", "-l", str(log_path), "-p", script],
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0 or not stat_path.exists():
            tail = "\n".join((log_path.read_text(errors="replace") if log_path.exists()
                              else result.stderr).splitlines()[-20:])
            raise SynthesisError(f"yosys failed on {top} for {fabric} "
                                 f"(exit {result.returncode}):\n{tail}")
        return stat_path.read_text()


def synthesize(verilog: str | os.PathLike, top: str, fabric: str, dsp: bool = True,
               log: str | os.PathLike | None = None, timeout: float = 1800,
               flatten: bool = True) -> Resources:
    """Synthesize ``top`` from the Verilog file ``verilog`` for ``fabric`` and count its cells.

    Parameters
    ----------
    verilog : path
        Verilog source holding ``top`` and everything below it.
    top : str
        Name of the top module.
    fabric : str
        A registered fabric: ``"ice40"`` (LUT4), ``"xc7"`` (Artix/Kintex-7, LUT6) or
        ``"ecp5"`` (LUT4).
    dsp : bool
        Let Yosys map multipliers to DSP blocks (``False`` forces LUT-only arithmetic).
    log : path, optional
        Where to keep the Yosys log.
    flatten : bool
        Flatten the design before mapping (``False`` maps each module once and counts its
        cells once per instance: far faster for designs of many identical lanes).

    Raises
    ------
    ValueError
        If ``fabric`` is unknown.
    ToolMissingError
        If Yosys is not installed.
    SynthesisError
        If Yosys fails; the message ends with the last lines of its log.
    """
    target = get_fabric(fabric)
    text = run_yosys(verilog, top, fabric, target.synth_script(top, dsp=dsp, flatten=flatten),
                     f"stat -json -top {top}", log=log, timeout=timeout)
    stats = json.loads(text)
    cells = stats.get("design", {}).get("num_cells_by_type")
    if cells is None:  # older layout: per module only
        cells = stats["modules"][f"\\{top}"]["num_cells_by_type"]
    return Resources.from_cells(target, cells)
