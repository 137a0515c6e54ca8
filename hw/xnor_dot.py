"""XNOR-popcount dot product of bipolar vectors (binary activations x binary weights).

With bit 1 meaning +1 and bit 0 meaning -1, lane ``i`` contributes +1 when ``x[i] == w[i]``, so
``dot(x, w) = 2 * popcount(~(x ^ w)) - lanes``. The unit outputs the popcount; the matrix-vector
unit accumulates counts and converts to the signed dot product (or compares in the count
domain) once per output.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import positive_int
from .popcount import count_shape, popcount

__all__ = ["XnorDot"]


class XnorDot(wiring.Component):
    """Combinational XNOR-popcount over ``lanes`` bipolar lanes.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).

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
    """

    def __init__(self, lanes: int):
        self._lanes = positive_int("XnorDot lanes", lanes)
        super().__init__({"x": In(lanes), "w": In(lanes), "count": Out(count_shape(lanes))})

    @property
    def lanes(self) -> int:
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.count.eq(popcount(~(self.x ^ self.w)))
        return m
