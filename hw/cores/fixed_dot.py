"""Fixed-point multipliers and dot products for any pair of widths and signedness.

``product(x, w, dsp=True)`` is Amaranth's ``*``, which synthesizers map to DSP blocks when the
fabric has them. ``dsp=False`` builds the same product from shifted partial products instead
(``x << i`` where bit ``i`` of ``w`` is set, the sign bit of a signed ``w`` weighing
``-2**(n-1)``): only adders and multiplexers, which stay in LUTs and carry chains on every fabric.
Both give the exact two's complement product.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .popcount import adder_tree
from .ternary_dot import shape_max_abs

__all__ = ["product", "constant_product", "signed_digits", "product_bound", "FixedMultiplier",
           "FixedDot"]


def product(x: Value, w: Value, dsp: bool = True) -> Value:
    """Return the exact product ``x * w``; with ``dsp=False`` as a LUT-only shift-add sum."""
    x, w = Value.cast(x), Value.cast(w)
    if dsp:
        return x * w
    width = len(w)
    partials = [Mux(w[i], x << i, 0) for i in range(width)]
    if w.shape().signed:
        return adder_tree(partials[:-1]) - partials[-1] if width > 1 else -partials[-1]
    return adder_tree(partials)


def signed_digits(constant: int) -> list[int]:
    """Return the non-adjacent form of ``constant``: digits in {-1, 0, +1}, least significant
    first, no two adjacent ones non-zero, ``sum(d * 2**i) == constant`` (the fewest non-zero
    digits of any signed-digit form, so the fewest adders of a constant multiplication)."""
    if not isinstance(constant, int) or isinstance(constant, bool):
        raise TypeError(f"constant must be an integer, not {constant!r}")
    digits = []
    while constant:
        digit = 2 - (constant & 3) if constant & 1 else 0
        digits.append(digit)
        constant = (constant - digit) >> 1
    return digits


def constant_product(x: Value, constant: int) -> Value:
    """Return the exact ``x * constant`` as shifted copies of ``x`` added and subtracted (one
    per non-zero digit of :func:`signed_digits`): no multiplier."""
    x = Value.cast(x)
    digits = signed_digits(constant)
    added = [x << i for i, d in enumerate(digits) if d > 0]
    subtracted = [x << i for i, d in enumerate(digits) if d < 0]
    if not subtracted:
        return adder_tree(added) if added else Const(0, 1)
    return (adder_tree(added) if added else 0) - adder_tree(subtracted)


def product_bound(x_shape, w_shape) -> int:
    """Return the largest ``|x * w|`` over all values of the two shapes."""
    return shape_max_abs(x_shape) * shape_max_abs(w_shape)


def _check_lanes(name: str, lanes) -> None:
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise TypeError(f"{name} lanes must be a positive integer, not {lanes!r}")


class FixedMultiplier(wiring.Component):
    """Combinational ``product = x * w`` for any widths and signedness.

    Parameters
    ----------
    x_shape, w_shape : Shape
        Shapes of the operands.
    dsp : bool
        Let the synthesizer infer DSP blocks (``True``) or build a LUT-only shift-add
        multiplier (``False``).

    Attributes
    ----------
    x : In(x_shape)
    w : In(w_shape)
    product : Out(signed)
        The exact product; its width holds ``max|x| * max|w|`` and a sign.
    """

    def __init__(self, x_shape, w_shape, *, dsp: bool = True):
        x_shape, w_shape = Shape.cast(x_shape), Shape.cast(w_shape)
        self._dsp = bool(dsp)
        self._bound = product_bound(x_shape, w_shape)
        super().__init__({"x": In(x_shape), "w": In(w_shape),
                          "product": Out(signed(bits_for(self._bound) + 1))})

    @property
    def bound(self) -> int:
        """Largest ``|product|``."""
        return self._bound

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.product.eq(product(self.x, self.w, self._dsp))
        return m


class FixedDot(wiring.Component):
    """Combinational dot product of ``lanes`` fixed-point activations and weights.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).
    x_shape, w_shape : Shape
        Shapes of one activation and one weight (any widths, signed or unsigned).
    dsp : bool
        Multiply with inferred DSP blocks (``True``) or LUT-only shift-add multipliers.

    Attributes
    ----------
    x : In(ArrayLayout(x_shape, lanes))
    w : In(ArrayLayout(w_shape, lanes))
    sum : Out(signed)
        ``sum(x[i] * w[i])``, wide enough for ``lanes * max|x| * max|w|`` (the extreme is most
        negative times most negative for two signed operands).

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    """

    def __init__(self, lanes: int, x_shape, w_shape, *, dsp: bool = True):
        _check_lanes("FixedDot", lanes)
        x_shape, w_shape = Shape.cast(x_shape), Shape.cast(w_shape)
        self._lanes = lanes
        self._dsp = bool(dsp)
        bound = lanes * product_bound(x_shape, w_shape)
        super().__init__({
            "x": In(data.ArrayLayout(x_shape, lanes)),
            "w": In(data.ArrayLayout(w_shape, lanes)),
            "sum": Out(signed(bits_for(bound) + 1)),
        })

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def dsp(self) -> bool:
        return self._dsp

    def elaborate(self, platform):
        m = Module()
        terms = [product(self.x[i], self.w[i], self._dsp) for i in range(self._lanes)]
        m.d.comb += self.sum.eq(adder_tree(terms))
        return m
