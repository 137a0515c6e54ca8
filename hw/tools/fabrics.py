"""FPGA fabrics: everything qnnforge knows about one, in one class, and a registry by name.

A :class:`Fabric` says how Yosys synthesizes for it (the ``synth_*`` command and its DSP flags),
how the resulting cells are counted (a pattern of cell names per resource class, and how many
LUTs a carry cell holds), and what sizes the logic built for it (the inputs of its LUT). The
synthesis runner (:mod:`~qnnforge.hw.tools.synth`), the cost explorer, the timing flow and
:meth:`~qnnforge.hw.compiler.options.HardwareOptions.for_fabric` all read these classes, so a
new fabric is one subclass registered with :func:`register`.
"""

from __future__ import annotations

import hashlib
import re
from typing import ClassVar

__all__ = ["Fabric", "ICE40", "XC7", "ECP5", "FABRICS", "register", "get_fabric"]


class Fabric:
    """One FPGA fabric, as Yosys synthesizes and counts it.

    Subclasses set the class attributes; instances carry no state of their own.

    Attributes
    ----------
    name : str
        Registry key, as the command line spells it.
    lut_inputs : int
        Inputs of one LUT (sizes the compressor popcount's counters).
    synth : str
        Yosys command that synthesizes ``{top}``, flattening included where the fabric's flow
        flattens by default.
    dsp_flag, nodsp_flag : str
        Appended to :attr:`synth` to allow DSP inference or to forbid it.
    keep_hierarchy : str
        Appended to :attr:`synth` (less any ``-flatten``) to map each module once.
    stop_early : str
        Appended to the synthesis to end it before a step that only renames cells.
    cells : dict of str to str
        Resource class (``lut``, ``ff``, ``carry``, ``bram``, ``dsp``, ...) to a regular
        expression matching the names of its cells; a cell counts in the first class it matches.
    luts_per_carry : int
        LUTs inside one carry cell, counted as LUTs too.
    nextpnr : tuple of str
        Place-and-route program and its device arguments; empty where qnnforge does not place
        and route for the fabric.
    bram_shapes : tuple of (int, int)
        The ``(width, depth)`` configurations of one block RAM; empty where it has none.
    pipeline : int
        Adder levels between the datapath's registers that a board of the fabric builds with
        by default (:attr:`~qnnforge.hw.compiler.options.HardwareOptions.pipeline`; 0: none).
    lane_write_masks : bool
        Whether the RAMs an input buffer goes to write single lanes under a mask at no cost
        (iCE40 and ECP5 block RAM); if not, buffers are written whole words at a time
        (:attr:`~qnnforge.hw.compiler.options.HardwareOptions.whole_word_writes`).
    luts_per_memory_cell : dict
        LUTs each distributed-RAM or shift-register cell takes (cell-name pattern to LUTs), for
        :meth:`memory_luts`: the ``lutram`` count is of cells, which take one to eight LUTs.
    block_rom_words : int or None
        Depth from which a weight memory is asked to go to block RAM
        (:attr:`~qnnforge.hw.compiler.options.HardwareOptions.block_rom_words`); None leaves
        the choice to synthesis.
    """

    name: ClassVar[str]
    lut_inputs: ClassVar[int]
    synth: ClassVar[str]
    dsp_flag: ClassVar[str] = ""
    nodsp_flag: ClassVar[str] = ""
    keep_hierarchy: ClassVar[str] = ""
    stop_early: ClassVar[str] = ""
    cells: ClassVar[dict[str, str]]
    luts_per_carry: ClassVar[int] = 0
    nextpnr: ClassVar[tuple[str, ...]] = ()
    bram_shapes: ClassVar[tuple[tuple[int, int], ...]] = ()
    pipeline: ClassVar[int] = 0
    block_rom_words: ClassVar[int | None] = None
    luts_per_memory_cell: ClassVar[dict[str, int]] = {}
    lane_write_masks: ClassVar[bool] = True

    def synth_script(self, top: str, *, dsp: bool, flatten: bool = True) -> str:
        """Return the Yosys commands that synthesize ``top`` (without reading or reporting)."""
        command = self.synth.format(top=top)
        if not flatten:
            command = command.replace(" -flatten", "") + self.keep_hierarchy
        return f"{command}{self.dsp_flag if dsp else self.nodsp_flag}{self.stop_early}"

    def count(self, cells: dict[str, int]) -> dict[str, int]:
        """Return the number of cells of each resource class in ``cells`` (name to count).

        ``lut`` includes the LUTs inside carry cells (:attr:`luts_per_carry`); cells of no
        class are not counted.
        """
        counts = {name: 0 for name in self.cells}
        for cell, number in cells.items():
            for name, pattern in self.cells.items():
                if re.fullmatch(pattern, cell):
                    counts[name] += number
                    break
        counts["lut"] += self.luts_per_carry * counts.get("carry", 0)
        return counts

    def memory_luts(self, cells: dict[str, int]) -> int:
        """Return the LUTs that the distributed-RAM and shift-register cells of ``cells`` take
        (LUTs used as memory, which ``count``'s ``lut`` leaves out).

        Raises
        ------
        ValueError
            If a ``lutram`` cell has no entry in :attr:`luts_per_memory_cell`.
        """
        total = 0
        for cell, number in cells.items():
            if not re.fullmatch(self.cells.get("lutram", r"(?!)"), cell):
                continue
            sizes = [luts for pattern, luts in self.luts_per_memory_cell.items()
                     if re.fullmatch(pattern, cell)]
            if not sizes:
                raise ValueError(f"{self.name}: no LUT count for the memory cell {cell}")
            total += sizes[0] * number
        return total

    def scheme(self) -> str:
        """Return a digest of how the fabric is synthesized and counted, for result caches: it
        changes whenever the script or the counting does."""
        scheme = (self.synth, self.dsp_flag, self.nodsp_flag, self.keep_hierarchy,
                  self.stop_early, sorted(self.cells.items()), self.luts_per_carry)
        return hashlib.sha256(repr(scheme).encode()).hexdigest()[:12]

    def bram_blocks(self, width: int, depth: int) -> int:
        """Return the fewest block RAMs that hold a ``width x depth`` memory (0 where the fabric
        has none): the best of :attr:`bram_shapes`, blocks side by side and stacked."""
        return min((-(-width // w) * -(-depth // d) for w, d in self.bram_shapes), default=0)

    def __repr__(self) -> str:
        return f"<Fabric {self.name}>"


FABRICS: dict[str, Fabric] = {}
"""Fabric name to fabric, in the order they were registered."""


def register(cls: type[Fabric]) -> type[Fabric]:
    """Add an instance of the :class:`Fabric` subclass ``cls`` to :data:`FABRICS`.

    Raises
    ------
    ValueError
        If a fabric of the same name is registered already.
    """
    if cls.name in FABRICS:
        raise ValueError(f"fabric {cls.name!r} is registered already")
    FABRICS[cls.name] = cls()
    return cls


def get_fabric(name: str) -> Fabric:
    """Return the registered fabric called ``name``.

    Raises
    ------
    ValueError
        If no fabric is called ``name``.
    """
    if name not in FABRICS:
        raise ValueError(f"fabric must be one of {', '.join(FABRICS)}, not {name!r}")
    return FABRICS[name]


# Stopping synth_ice40/synth_ecp5 before their final 'autoname': it only renames cells, and on
# designs of 10^5 cells Yosys 0.23 spends tens of minutes in it.
_BEFORE_AUTONAME = " -run :check; hierarchy -check"


@register
class ICE40(Fabric):
    """Lattice iCE40: LUT4 with a carry cell (``SB_CARRY``) beside each, no LUT inside it."""

    name = "ice40"
    lut_inputs = 4
    synth = "synth_ice40 -top {top}"
    dsp_flag = " -dsp"
    keep_hierarchy = " -noflatten"
    stop_early = _BEFORE_AUTONAME
    cells = {"lut": r"SB_LUT4", "ff": r"SB_DFF\w*", "carry": r"SB_CARRY",
             "bram": r"SB_RAM40_4K\w*|SB_SPRAM256KA", "dsp": r"SB_MAC16"}
    nextpnr = ("nextpnr-ice40", "--up5k", "--package", "sg48")
    bram_shapes = ((16, 256), (8, 512), (4, 1024), (2, 2048))  # SB_RAM40_4K
    # a LUT4 and its routing take some 3 ns on the UP5K, and Yosys maps a group's sum to a
    # LUT network deeper than its adder levels: a register every 2 levels held the digits MLP's
    # fc0 (4-bit inputs, add/subtract groups of 4 lanes) to 46-48 MHz; every level it reaches
    # 48-51 MHz (nextpnr seeds 1-4) in 170 fewer logic cells (its sums stay on carry chains)
    pipeline = 1


@register
class XC7(Fabric):
    """AMD/Xilinx 7-series (Artix, Kintex): LUT6, ``CARRY4`` blocks holding no LUT."""

    name = "xc7"
    lut_inputs = 6
    synth = "synth_xilinx -flatten -family xc7 -top {top}"
    nodsp_flag = " -nodsp"
    # LUT6_2 packs two LUTs in one LUT6 site; it counts once, as the site it takes
    cells = {"lut": r"LUT[1-6](_2)?", "ff": r"FD[RSCP]E(_1)?|LDCE|LDPE", "carry": r"CARRY4",
             "bram": r"RAMB(18|36)E1", "dsp": r"DSP48E1",
             "lutram": r"RAM(32|64|128|256)X1[SD]\w*|RAM32M\w*|RAM64M\w*|SRL(16|C32)E",
             "mux": r"MUXF[78]"}
    bram_shapes = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))  # RAMB18
    # Yosys 0.23 builds a 256-word ROM from LUTs (four LUT6 and a MUXF7/F8 per bit; 1,949 LUT
    # and no BRAM for a 256 x 256 binary layer, 930 LUT and 4 RAMB36 asked for block RAM); from
    # 128 words (two LUT6 per bit) a block RAM is the cheaper place, below it a LUT is
    block_rom_words = 128
    # a RAM32M holds six bits a word under one write enable, but one bit under a bit's own
    lane_write_masks = False
    # UG474: a RAM32M/RAM64M or RAM128X1D takes four LUTs, a dual-port 32/64 x 1 two
    luts_per_memory_cell = {r"RAM(32|64)X1S\w*|SRL16E|SRLC32E": 1,
                            r"RAM(32|64)X1D\w*|RAM128X1S\w*": 2,
                            r"RAM32M\w*|RAM64M\w*|RAM128X1D\w*|RAM256X1S\w*": 4,
                            r"RAM256X1D\w*": 8}


@register
class ECP5(Fabric):
    """Lattice ECP5: LUT4; a ``CCU2C`` carry cell is two LUT4s with their carry logic (it takes
    both LUTs of a slice half), so they count as LUTs."""

    name = "ecp5"
    lut_inputs = 4
    synth = "synth_ecp5 -top {top}"
    nodsp_flag = " -nodsp"
    keep_hierarchy = " -noflatten"
    stop_early = _BEFORE_AUTONAME
    cells = {"lut": r"LUT4", "ff": r"TRELLIS_FF", "carry": r"CCU2C",
             "bram": r"DP16KD|PDPW16KD", "dsp": r"MULT18X18D|ALU54B",
             "lutram": r"TRELLIS_DPR16X4"}
    # a 16 x 4 distributed RAM takes the four LUT4s of two slices (a third writes it)
    luts_per_memory_cell = {r"TRELLIS_DPR16X4": 4}
    luts_per_carry = 2
    bram_shapes = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))  # DP16KD
    pipeline = 4
