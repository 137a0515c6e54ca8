"""Logic synthesis with Yosys: resource counts (LUT, FF, carry, BRAM, DSP) per FPGA fabric.

Uses the system Yosys (``synth_ice40``, ``synth_xilinx -family xc7``, ``synth_ecp5``); the
WebAssembly Yosys that Amaranth bundles is only used to emit Verilog.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...sw.errors import QnnforgeError
from .toolchain import find_tool

__all__ = ["FABRICS", "Resources", "SynthesisError", "counting_scheme", "synthesize"]

# cell-name patterns of each fabric, by resource class
_CLASSES = {
    "ice40": {"lut": r"SB_LUT4", "ff": r"SB_DFF\w*", "carry": r"SB_CARRY",
              "bram": r"SB_RAM40_4K\w*|SB_SPRAM256KA", "dsp": r"SB_MAC16"},
    "xc7": {"lut": r"LUT[1-6](_2)?", "ff": r"FD[RSCP]E(_1)?|LDCE|LDPE", "carry": r"CARRY4",
            "bram": r"RAMB(18|36)E1", "dsp": r"DSP48E1",
            "lutram": r"RAM(32|64|128|256)X1[SD]\w*|RAM32M\w*|RAM64M\w*|SRL(16|C32)E",
            "mux": r"MUXF[78]"},
    "ecp5": {"lut": r"LUT4", "ff": r"TRELLIS_FF", "carry": r"CCU2C", "bram": r"DP16KD|PDPW16KD",
             "dsp": r"MULT18X18D|ALU54B", "lutram": r"TRELLIS_DPR16X4"},
}

_LUTS_PER_CARRY = {"ice40": 0, "xc7": 0, "ecp5": 2}
# LUTs inside one carry cell: an ECP5 CCU2C is two LUT4s with their carry logic (it takes both
# LUTs of a slice half), so they count as LUTs; SB_CARRY and CARRY4 hold no LUT.

FABRICS = {
    "ice40": ("synth_ice40 -top {top}", " -dsp", ""),
    "xc7": ("synth_xilinx -flatten -family xc7 -top {top}", "", " -nodsp"),
    "ecp5": ("synth_ecp5 -top {top}", "", " -nodsp"),
}
"""Fabric name -> (synthesis command, flag to allow DSPs, flag to forbid them)."""


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


def _classify(fabric: str, cells: dict[str, int]) -> Resources:
    counts = {name: 0 for name in _CLASSES[fabric]}
    for cell, count in cells.items():
        for name, pattern in _CLASSES[fabric].items():
            if re.fullmatch(pattern, cell):
                counts[name] += count
                break
    # LUT6_2 packs two LUTs in one LUT6 site; count it once, as the site it takes.
    lut = counts["lut"] + _LUTS_PER_CARRY[fabric] * counts["carry"]
    return Resources(fabric=fabric, lut=lut, ff=counts["ff"], carry=counts["carry"],
                     bram=counts["bram"], dsp=counts["dsp"], lutram=counts.get("lutram", 0),
                     cells=dict(sorted(cells.items())))


_KEEP_HIERARCHY = {"ice40": " -noflatten", "xc7": "", "ecp5": " -noflatten"}
# Stop before the final 'autoname' of synth_ice40/synth_ecp5: it only renames cells, and on
# designs of 10^5 cells Yosys 0.23 spends tens of minutes in it.
_SKIP_AUTONAME = {"ice40": " -run :check; hierarchy -check", "xc7": "",
                  "ecp5": " -run :check; hierarchy -check"}


def counting_scheme(fabric: str) -> str:
    """Return a digest of how ``fabric`` is synthesized and counted (script and cell classes),
    for caches of results: it changes whenever either does."""
    scheme = (FABRICS[fabric], _CLASSES[fabric], _LUTS_PER_CARRY[fabric],
              _KEEP_HIERARCHY[fabric], _SKIP_AUTONAME[fabric])
    return hashlib.sha256(repr(scheme).encode()).hexdigest()[:12]


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
        ``"ice40"`` (LUT4), ``"xc7"`` (Artix/Kintex-7, LUT6) or ``"ecp5"`` (LUT4).
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
    if fabric not in FABRICS:
        raise ValueError(f"fabric must be one of {', '.join(FABRICS)}, not {fabric!r}")
    yosys = find_tool("yosys")
    command, with_dsp, without_dsp = FABRICS[fabric]
    if not flatten:
        command = command.replace(" -flatten", "") + _KEEP_HIERARCHY[fabric]
    with tempfile.TemporaryDirectory(prefix="qnnforge-synth-") as scratch:
        stat_path = Path(scratch) / "stat.json"
        log_path = Path(log) if log is not None else Path(scratch) / "yosys.log"
        script = (f"read_verilog -sv {Path(verilog).resolve()}; "
                  f"{command.format(top=top)}{with_dsp if dsp else without_dsp}"
                  f"{_SKIP_AUTONAME[fabric]}; "
                  f"tee -q -o {stat_path} stat -json -top {top}")
        result = subprocess.run([yosys, "-q", "-l", str(log_path), "-p", script],
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0 or not stat_path.exists():
            tail = "\n".join((log_path.read_text(errors="replace") if log_path.exists()
                              else result.stderr).splitlines()[-20:])
            raise SynthesisError(f"yosys failed on {top} for {fabric} "
                                 f"(exit {result.returncode}):\n{tail}")
        stats = json.loads(stat_path.read_text())
    cells = stats.get("design", {}).get("num_cells_by_type")
    if cells is None:  # older layout: per module only
        cells = stats["modules"][f"\\{top}"]["num_cells_by_type"]
    return _classify(fabric, cells)
