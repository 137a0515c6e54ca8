"""Choices that shape the generated hardware without changing what it computes."""

from __future__ import annotations

from dataclasses import dataclass

from ..cores.xnor_dot import check_popcount
from ..tools.fabrics import get_fabric

__all__ = ["HardwareOptions"]


@dataclass(frozen=True)
class HardwareOptions:
    """How the generator builds the units of every layer; the results are bit-identical.

    Parameters
    ----------
    dsp : bool
        Fixed-point multipliers (dot products and requantizers) are inferred as DSP blocks
        (``True``) or built from LUTs as shift-add multipliers (``False``).
    popcount : str
        Popcount of XNOR layers (binary first layers too), one of
        :data:`~qnnforge.hw.cores.xnor_dot.POPCOUNTS`.
    lut_inputs : int
        LUT size the compressor popcount is built for (6: Xilinx 7-series; 4: iCE40, ECP5).
    pipeline : int
        Adder levels between the registers of the datapath (0: no registers beyond the
        issue and output ones). Above 0, every matrix-vector unit registers its dot product
        every ``pipeline`` levels (:func:`~qnnforge.hw.cores.staged_dot.dot_stages`: as many
        as its SIMD needs) and its accumulator's result before the output stage, and the argmax
        compares in a registered tree; each register adds a cycle of latency, none of
        throughput.
    block_rom_words : int or None
        A weight memory of at least this many words is asked to go to block RAM
        (``rom_style = "block"``); shallower ones, and all of them when None, are left to
        synthesis, which builds small ROMs from LUTs.
    whole_word_writes : bool
        A matrix-vector unit whose input beats are narrower than its SIMD word collects each
        word in a register and writes its input buffer a whole word at a time, instead of
        every beat under a lane mask: for RAMs that cannot mask single lanes (xc7 LUT RAM,
        whose cells then hold one lane each).
    writable_weights : bool
        Every weight memory gets a write port, fed from the network's ``w_stream`` (FINN's
        runtime-writable weights): new weights load without a new bitstream, between vectors.
        The memories still start with the artifact's weights. On xc7 a shallow writable memory
        is LUT RAM, whose read and write share the address, 0.5 LUT per weight bit (RAM32M),
        where Yosys builds the same memory as a ROM at one LUT per bit.

    Raises
    ------
    TypeError
        If ``dsp``, ``whole_word_writes`` or ``writable_weights`` is not a bool.
    ValueError
        If ``popcount`` is unknown, ``lut_inputs`` is not an integer of at least 3,
        ``pipeline`` is not a non-negative integer or ``block_rom_words`` is neither None nor
        a positive integer.
    """

    dsp: bool = True
    popcount: str = "adder_tree"
    lut_inputs: int = 6
    pipeline: int = 0
    block_rom_words: int | None = None
    whole_word_writes: bool = False
    writable_weights: bool = False

    def __post_init__(self) -> None:
        for name in ("dsp", "whole_word_writes", "writable_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")
        check_popcount(self.popcount, self.lut_inputs)
        if (not isinstance(self.pipeline, int) or isinstance(self.pipeline, bool)
                or self.pipeline < 0):
            raise ValueError(f"pipeline must be a non-negative integer, not {self.pipeline!r}")
        words = self.block_rom_words
        if words is not None and (not isinstance(words, int) or isinstance(words, bool)
                                  or words < 1):
            raise ValueError(f"block_rom_words must be None or a positive integer, not "
                             f"{words!r}")

    @classmethod
    def for_fabric(cls, fabric: str, *, dsp: bool = True, popcount: str = "adder_tree",
                   pipeline: int | None = None, block_rom_words: int | None = None,
                   writable_weights: bool = False) -> HardwareOptions:
        """Return the options for ``fabric``: its LUT size sizes the compressor popcount, and
        its adder levels per register (:attr:`~qnnforge.hw.tools.fabrics.Fabric.pipeline`)
        pipeline the datapath unless ``pipeline`` is given, and its
        :attr:`~qnnforge.hw.tools.fabrics.Fabric.block_rom_words` places the weight memories
        unless ``block_rom_words`` is given.

        Raises
        ------
        ValueError
            If ``fabric`` is not one of the known fabrics.
        """
        chosen = get_fabric(fabric)
        return cls(dsp=dsp, popcount=popcount, lut_inputs=chosen.lut_inputs,
                   pipeline=chosen.pipeline if pipeline is None else pipeline,
                   block_rom_words=(chosen.block_rom_words if block_rom_words is None
                                    else block_rom_words),
                   whole_word_writes=not chosen.lane_write_masks,
                   writable_weights=writable_weights)

    def weight_memory_attrs(self, depth: int) -> dict | None:
        """Return the synthesis attributes of a weight memory of ``depth`` words."""
        if self.block_rom_words is not None and depth >= self.block_rom_words:
            return {"rom_style": "block"}
        return None

    @property
    def pipelined(self) -> bool:
        """Whether the datapath has registers beyond the issue and output ones."""
        return self.pipeline > 0

    def to_json(self) -> dict:
        """Return the design-summary form of these options."""
        return {"dsp": self.dsp, "popcount": {"architecture": self.popcount,
                                               "lut_inputs": self.lut_inputs},
                "pipeline": {"levels": self.pipeline},
                "memories": {"block_rom_words": self.block_rom_words,
                             "whole_word_writes": self.whole_word_writes,
                             "writable_weights": self.writable_weights}}
