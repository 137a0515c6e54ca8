"""XNOR-popcount dot product of bipolar vectors (binary activations x binary weights).

With bit 1 meaning +1 and bit 0 meaning -1, lane ``i`` contributes +1 when ``x[i] == w[i]``, so
``dot(x, w) = 2 * popcount(~(x ^ w)) - lanes``. The unit outputs the popcount; the matrix-vector
unit accumulates counts and converts to the signed dot product (or compares in the count
domain) once per output.

The popcount is a plain adder tree or, on request, the compressor tree of
:mod:`~qnnforge.hw.cores.compressor` (carry chains absorbing LUT-sized counters, sized for the target's
LUT), which is about 2.6 times smaller on LUT6 fabrics. Both are combinational, so the choice
does not change the matrix-vector unit's cycle model.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compressor import check_lut_inputs, compressor_xnor_popcount
from .params import positive_int
from .popcount import count_shape, popcount

__all__ = ["POPCOUNTS", "XnorDot"]

POPCOUNTS = ("adder_tree", "compressor")
"""Popcount architectures the generator builds (the combinational ones of the cost explorer)."""


class XnorDot(wiring.Component):
    """Combinational XNOR-popcount over ``lanes`` bipolar lanes.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).
    popcount : str
        One of :data:`POPCOUNTS`.
    lut_inputs : int
        Inputs of the target's LUT, which sizes the compressor's counters (6 for Xilinx
        7-series, 4 for iCE40 and ECP5).

    Attributes
    ----------
    x, w : In(lanes)
        Activation and weight bits (1 = +1, 0 = -1).
    count : Out(bits_for(lanes))
        Number of lanes where ``x`` and ``w`` agree.

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    ValueError
        If ``popcount`` is unknown or ``lut_inputs`` is not an integer of at least 3.
    """

    def __init__(self, lanes: int, *, popcount: str = "adder_tree", lut_inputs: int = 6):
        self._lanes = positive_int("XnorDot lanes", lanes)
        self._popcount, self._lut_inputs = check_popcount(popcount, lut_inputs)
        super().__init__({"x": In(lanes), "w": In(lanes), "count": Out(count_shape(lanes))})

    @property
    def lanes(self) -> int:
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        if self._popcount == "compressor":
            m.d.comb += self.count.eq(
                compressor_xnor_popcount(m, self.x, self.w, self._lut_inputs))
        else:
            m.d.comb += self.count.eq(popcount(~(self.x ^ self.w)))
        return m


def check_popcount(popcount: str, lut_inputs: int) -> tuple[str, int]:
    """Return ``(popcount, lut_inputs)`` if they name a generator popcount and a LUT size.

    Raises
    ------
    ValueError
        If ``popcount`` is not one of :data:`POPCOUNTS` or ``lut_inputs`` is not an integer of
        at least 3.
    """
    if popcount not in POPCOUNTS:
        raise ValueError(f"popcount must be one of {', '.join(POPCOUNTS)}, not {popcount!r}")
    return popcount, check_lut_inputs(lut_inputs)
