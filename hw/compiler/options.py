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

    Raises
    ------
    TypeError
        If ``dsp`` is not a bool.
    ValueError
        If ``popcount`` is unknown or ``lut_inputs`` is not an integer of at least 3.
    """

    dsp: bool = True
    popcount: str = "adder_tree"
    lut_inputs: int = 6

    def __post_init__(self) -> None:
        if not isinstance(self.dsp, bool):
            raise TypeError(f"dsp must be a bool, not {self.dsp!r}")
        check_popcount(self.popcount, self.lut_inputs)

    @classmethod
    def for_fabric(cls, fabric: str, *, dsp: bool = True,
                   popcount: str = "adder_tree") -> HardwareOptions:
        """Return the options for ``fabric`` (its LUT size sizes the compressor popcount).

        Raises
        ------
        ValueError
            If ``fabric`` is not one of the known fabrics.
        """
        return cls(dsp=dsp, popcount=popcount, lut_inputs=get_fabric(fabric).lut_inputs)

    def to_json(self) -> dict:
        """Return the design-summary form of these options."""
        return {"dsp": self.dsp, "popcount": {"architecture": self.popcount,
                                               "lut_inputs": self.lut_inputs}}
