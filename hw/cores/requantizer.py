"""Requantizer: multiply, shift, round and saturate an accumulator (gemmlowp/TFLite style).

``y = clamp(((acc * multiplier + offset) >> (base + shift)) + zero_point, low, high)``. The
exporter folds the float scale ratio into ``multiplier / 2**(base + shift)`` and the batch-norm
bias plus the rounding constant ``2**(base + shift - 1)`` into ``offset``, so the arithmetic
(flooring) shift rounds half up. ``base`` is the smallest shift of the layer, applied as a
constant; only the per-channel remainder needs a barrel shifter.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .fixed_dot import product
from .ternary_dot import shape_max_abs

__all__ = ["Requantizer"]


class Requantizer(wiring.Component):
    """Combinational requantization of one accumulator to a k-bit integer.

    Parameters
    ----------
    acc_shape, multiplier_shape, offset_shape : Shape
        Shapes of the accumulator, the multiplier and the offset.
    output_shape : Shape
        Shape of the result (``unsigned(k)`` or ``signed(k)``); the result saturates to its range.
    base : int
        Constant part of the shift, >= 0.
    max_shift : int
        Largest per-channel remainder of the shift, >= 0.
    dsp : bool
        Multiply with an inferred DSP block (``True``) or a LUT-only shift-add multiplier.

    Attributes
    ----------
    acc : In(acc_shape)
    multiplier : In(multiplier_shape)
    offset : In(offset_shape)
    shift : In(range(max_shift + 1))
    zero_point : In(output_shape)
    y : Out(output_shape)

    Raises
    ------
    ValueError
        If ``base`` or ``max_shift`` is negative.
    """

    def __init__(self, acc_shape, multiplier_shape, offset_shape, output_shape, *, base: int = 0,
                 max_shift: int = 0, dsp: bool = True):
        for name, value in (("base", base), ("max_shift", max_shift)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Requantizer {name} must be a non-negative integer, "
                                 f"not {value!r}")
        self._shapes = tuple(Shape.cast(s) for s in (acc_shape, multiplier_shape, offset_shape))
        self._output_shape = Shape.cast(output_shape)
        self._base = base
        self._dsp = bool(dsp)
        super().__init__({
            "acc": In(self._shapes[0]), "multiplier": In(self._shapes[1]),
            "offset": In(self._shapes[2]), "shift": In(range(max_shift + 1)),
            "zero_point": In(self._output_shape), "y": Out(self._output_shape),
        })

    def elaborate(self, platform):
        m = Module()
        acc_shape, multiplier_shape, offset_shape = self._shapes
        worst = (shape_max_abs(acc_shape) * shape_max_abs(multiplier_shape)
                 + shape_max_abs(offset_shape))
        scaled = Signal(signed(bits_for(worst) + 1))
        m.d.comb += scaled.eq(product(self.acc, self.multiplier, self._dsp) + self.offset)
        shifted = Signal.like(scaled)
        m.d.comb += shifted.eq((scaled >> self._base) >> self.shift)
        # the sum of a signed and a zero point that may be wider than it, with its sign bit
        value = Signal(signed(max(len(shifted), self._output_shape.width) + 2))
        m.d.comb += value.eq(shifted + self.zero_point)
        shape = self._output_shape
        low = -(1 << (shape.width - 1)) if shape.signed else 0
        high = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1
        m.d.comb += self.y.eq(Mux(value < low, low, Mux(value > high, high, value)))
        return m
