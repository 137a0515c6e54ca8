"""Dot product of fixed-point activations with TTQ weights ``{-Wn, 0, +Wp}``: two sums, two
constant multiplications.

Trained ternary quantization gives each layer two learned integer scales, ``Wp`` for the positive
weights and ``Wn`` for the negative ones. The lanes stay multiplier-free, as in
:class:`~.ternary_dot.TernaryDot`: lane ``i`` adds ``x[i]`` to ``P`` when its code is ``+1``
(``01``), to ``N`` when it is ``-1`` (``11``; the sign bit alone selects ``N``, so the unused
code ``10`` reads as -1 too) and to neither when it is 0. The unit returns ``Wp * P - Wn * N``,
each constant product a few shifted copies added or subtracted
(:func:`~.fixed_dot.constant_product`): two per PE, not one per lane.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .fixed_dot import constant_product
from .params import positive_int
from .popcount import adder_tree
from .ternary_dot import shape_max_abs

__all__ = ["TTQDot"]


class TTQDot(wiring.Component):
    """Combinational dot product of ``lanes`` fixed-point activations with TTQ weights.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).
    x_shape : Shape
        Shape of one activation (``unsigned(k)`` or ``signed(k)``).
    positive, negative : int
        The integer scales ``Wp`` and ``Wn`` (a weight is ``+Wp``, 0 or ``-Wn``).

    Attributes
    ----------
    x : In(ArrayLayout(x_shape, lanes))
        Activations.
    w : In(ArrayLayout(signed(2), lanes))
        Weight codes (ternary: ``01`` +1, ``11`` -1, ``00`` 0).
    sum : Out(signed)
        ``Wp * P - Wn * N``, wide enough for ``lanes * max|x| * max(Wp, Wn)``.

    Raises
    ------
    TypeError
        If ``lanes``, ``positive`` or ``negative`` is not a positive integer.
    """

    def __init__(self, lanes: int, x_shape, positive: int, negative: int):
        self._lanes = positive_int("TTQDot lanes", lanes)
        self._positive = positive_int("TTQDot positive scale", positive)
        self._negative = positive_int("TTQDot negative scale", negative)
        x_shape = Shape.cast(x_shape)
        bound = lanes * shape_max_abs(x_shape) * max(positive, negative)
        super().__init__({
            "x": In(data.ArrayLayout(x_shape, lanes)),
            "w": In(data.ArrayLayout(signed(2), lanes)),
            "sum": Out(signed(bits_for(bound) + 1)),
        })

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def scales(self) -> tuple[int, int]:
        """``(Wp, Wn)``."""
        return self._positive, self._negative

    def elaborate(self, platform):
        m = Module()
        positive, negative = [], []
        for i in range(self._lanes):
            x, w = self.x[i], self.w[i]
            positive.append(Mux(w[0] & ~w[1], x, 0))
            negative.append(Mux(w[1], x, 0))
        m.d.comb += self.sum.eq(constant_product(adder_tree(positive), self._positive)
                                - constant_product(adder_tree(negative), self._negative))
        return m
