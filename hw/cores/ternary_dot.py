"""Dot product of fixed-point activations with ternary (-1/0/+1) weights: add, subtract or skip.

No multiplier is needed: lane ``i`` contributes ``x[i]`` when ``w[i]`` is +1, ``-x[i]`` when it is
-1 and nothing when it is 0. Weights are 2-bit two's complement codes (``01`` = +1, ``11`` = -1,
``00`` = 0); the sign bit alone selects subtraction, so the unused code ``10`` reads as -1. A
subtraction adds ``~x[i]`` and counts its ``+ 1`` as a carry of the adder tree, so no lane needs
an incrementer of its own.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .params import positive_int
from .popcount import adder_tree, complement_if

__all__ = ["TernaryDot", "shape_max_abs"]


def shape_max_abs(shape: Shape) -> int:
    """Return the largest magnitude a value of ``shape`` can have."""
    shape = Shape.cast(shape)
    return 1 << (shape.width - 1) if shape.signed else (1 << shape.width) - 1


class TernaryDot(wiring.Component):
    """Combinational dot product of ``lanes`` fixed-point activations with ternary weights.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).
    x_shape : Shape
        Shape of one activation (``unsigned(k)`` or ``signed(k)``).

    Attributes
    ----------
    x : In(ArrayLayout(x_shape, lanes))
        Activations.
    w : In(ArrayLayout(signed(2), lanes))
        Weight codes.
    sum : Out(signed)
        ``sum(w[i] * x[i])``, wide enough for the worst case ``lanes * max|x|``.

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    """

    def __init__(self, lanes: int, x_shape):
        self._lanes = positive_int("TernaryDot lanes", lanes)
        x_shape = Shape.cast(x_shape)
        super().__init__({
            "x": In(data.ArrayLayout(x_shape, lanes)),
            "w": In(data.ArrayLayout(signed(2), lanes)),
            "sum": Out(signed(bits_for(lanes * shape_max_abs(x_shape)) + 1)),
        })

    @property
    def lanes(self) -> int:
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.x.shape().elem_shape).width + 1
        terms, negative = [], []
        for i in range(self._lanes):
            w = self.w[i]
            complement = complement_if(m, self.x[i], w[1], width, f"signed{i}")
            term = Signal(signed(width), name=f"term{i}")
            m.d.comb += term.eq(Mux(w == 0, 0, complement))
            terms.append(term)
            negative.append(w[1])  # a set sign bit means w != 0
        m.d.comb += self.sum.eq(adder_tree(terms, negative))
        return m
