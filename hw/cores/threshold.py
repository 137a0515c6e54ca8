"""Threshold unit: one integer comparison turns an accumulator into a bipolar activation.

Batch-norm followed by sign folds into ``y = acc >= bound`` (positive batch-norm scale) or
``y = acc <= bound`` (negative scale); the generator precomputes ``bound`` in whatever domain the
accumulator lives in (e.g. popcounts for XNOR layers), so no arithmetic remains but the compare.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Threshold"]


class Threshold(wiring.Component):
    """Combinational ``y = (acc <= bound) if flip else (acc >= bound)``.

    Parameters
    ----------
    acc_shape, bound_shape : Shape
        Shapes of the accumulator and of the bound.

    Attributes
    ----------
    acc : In(acc_shape)
    bound : In(bound_shape)
    flip : In(1)
        Compare downwards (negative batch-norm scale).
    y : Out(1)
        1 for +1, 0 for -1.
    """

    def __init__(self, acc_shape, bound_shape):
        super().__init__({"acc": In(Shape.cast(acc_shape)), "bound": In(Shape.cast(bound_shape)),
                          "flip": In(1), "y": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(Mux(self.flip, self.acc <= self.bound, self.acc >= self.bound))
        return m
