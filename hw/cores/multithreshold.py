"""Multi-threshold unit: an accumulator becomes an unsigned k-bit activation (FINN style).

Batch-norm followed by a k-bit quantized activation folds into ``2**k - 1`` sorted integer
thresholds per channel; the activation is the number of thresholds the accumulator passes.
A negative batch-norm scale flips every comparison (``acc <= bound``), with the bounds
precomputed by the generator, so only comparators and a popcount remain.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .popcount import count_shape, popcount

__all__ = ["MultiThreshold"]


class MultiThreshold(wiring.Component):
    """Combinational ``y = #{l : (acc <= bounds[l]) if flip else (acc >= bounds[l])}``.

    Parameters
    ----------
    acc_shape, bound_shape : Shape
        Shapes of the accumulator and of one bound.
    levels : int
        Number of thresholds (``2**k - 1`` for a k-bit activation).

    Attributes
    ----------
    acc : In(acc_shape)
    bounds : In(ArrayLayout(bound_shape, levels))
    flip : In(1)
        Compare downwards (negative batch-norm scale).
    y : Out(bits_for(levels))
        The activation.

    Raises
    ------
    TypeError
        If ``levels`` is not a positive integer.
    """

    def __init__(self, acc_shape, bound_shape, levels: int):
        if not isinstance(levels, int) or isinstance(levels, bool) or levels < 1:
            raise TypeError(f"MultiThreshold levels must be a positive integer, not {levels!r}")
        self._levels = levels
        super().__init__({"acc": In(Shape.cast(acc_shape)),
                          "bounds": In(data.ArrayLayout(Shape.cast(bound_shape), levels)),
                          "flip": In(1), "y": Out(count_shape(levels))})

    @property
    def levels(self) -> int:
        return self._levels

    def elaborate(self, platform):
        m = Module()
        # One signal holds the comparisons: popcount slices its operand bit by bit, and slices
        # of a Cat of expressions would repeat every comparison once per bit in the Verilog
        # (levels**2 comparators written out, 16.8 MB for 255 levels).
        passed = Signal(self._levels)
        m.d.comb += passed.eq(Cat(*(Mux(self.flip, self.acc <= bound, self.acc >= bound)
                                    for bound in self.bounds)))
        m.d.comb += self.y.eq(popcount(passed))
        return m
