"""Dot product of fixed-point activations with codebook weights: a table lookup and a multiplier
per lane.

Deep Compression's clustered weights share a per-layer table of ``2**b`` (or fewer) integer
values; the weight memory holds ``b``-bit indices. Each lane looks its index up in a constant
table (a tree of ``2**b - 1`` multiplexers of constants, which synthesis folds into one
``b``-input LUT per value bit, no memory) and
multiplies the value with its activation, with an inferred DSP block or a LUT-only shift-add
multiplier (:func:`~.fixed_dot.product`). Indices past the table's end read as its last value
(as :meth:`~qnnforge.sw.encoding.Encoding.from_code` does).

:class:`CodebookSumDot` computes the same sum with no multiplier per lane: one sum of activations
per table entry, each multiplied once by its constant.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ...sw.encoding import signed_bits
from .fixed_dot import constant_product, product
from .params import positive_int
from .popcount import adder_tree
from .ternary_dot import shape_max_abs

__all__ = ["CodebookLane", "CodebookDot", "CodebookSumDot", "check_table"]


def check_table(values, bits: int) -> tuple[int, ...]:
    """Return ``values`` as a tuple of 1..``2**bits`` integers.

    Raises
    ------
    TypeError
        If ``bits`` is not a positive integer or a value not an integer.
    ValueError
        If there are no values or more than ``2**bits``.
    """
    positive_int("codebook bits", bits)
    values = tuple(values)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError(f"codebook values must be integers, not {list(values)!r}")
    if not 1 <= len(values) <= 1 << bits:
        raise ValueError(f"a codebook of {bits} bits needs 1..{1 << bits} values, not "
                         f"{len(values)}")
    return values


def _lookup(index: Value, table: list[int]) -> Value:
    """Return ``table[index]`` as a tree of multiplexers over the index bits, least significant
    first (not a ``Switch``, which Yosys would turn into a ROM: a memory, maybe a block RAM)."""
    level: list = [Const(v) for v in table]
    for bit in range(len(index)):
        level = [Mux(index[bit], level[k + 1], level[k]) for k in range(0, len(level), 2)]
    return level[0]


class CodebookLane(wiring.Component):
    """One codebook lane: ``product = values[w] * x`` (look-up, then multiply).

    Parameters
    ----------
    x_shape : Shape
        Shape of the activation.
    bits : int
        Index width ``b``.
    values : sequence of int
        The table (1..``2**b`` entries; indices past its end read as its last value).
    dsp : bool
        Multiply with ``*`` (a DSP block where synthesis infers one) or LUT-only shift-add.

    Attributes
    ----------
    x : In(x_shape)
    w : In(unsigned(bits))
    product : Out(signed)
        The exact product; its width holds ``max|x| * max|value|`` and a sign.

    Raises
    ------
    TypeError
        If ``bits`` is not a positive integer or a value not an integer.
    ValueError
        If the table has no values or more than ``2**bits``.
    """

    def __init__(self, x_shape, bits: int, values, *, dsp: bool = True):
        self._values = check_table(values, bits)
        self._bits, self._dsp = bits, bool(dsp)
        x_shape = Shape.cast(x_shape)
        self._value_shape = signed(signed_bits(min(0, *self._values), max(0, *self._values)))
        self._bound = shape_max_abs(x_shape) * max(abs(v) for v in self._values)
        super().__init__({"x": In(x_shape), "w": In(unsigned(bits)),
                          "product": Out(signed(bits_for(self._bound) + 1))})

    @property
    def values(self) -> tuple[int, ...]:
        return self._values

    @property
    def bound(self) -> int:
        """Largest ``|product|``."""
        return self._bound

    def elaborate(self, platform):
        m = Module()
        table = [self._values[min(index, len(self._values) - 1)]
                 for index in range(1 << self._bits)]
        value = Signal(self._value_shape)
        m.d.comb += [value.eq(_lookup(self.w, table)),
                     self.product.eq(product(self.x, value, self._dsp))]
        return m


class _TableDot(wiring.Component):
    """The ports and parameters every codebook dot product shares (see :class:`CodebookDot`)."""

    def __init__(self, lanes: int, x_shape, bits: int, values):
        self._lanes = positive_int(f"{type(self).__name__} lanes", lanes)
        self._values = check_table(values, bits)
        self._bits = bits
        x_shape = Shape.cast(x_shape)
        bound = lanes * shape_max_abs(x_shape) * max(abs(v) for v in self._values)
        super().__init__({
            "x": In(data.ArrayLayout(x_shape, lanes)),
            "w": In(data.ArrayLayout(unsigned(bits), lanes)),
            "sum": Out(signed(bits_for(bound) + 1)),
        })

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def values(self) -> tuple[int, ...]:
        return self._values


class CodebookDot(_TableDot):
    """Combinational dot product of ``lanes`` fixed-point activations with codebook weights.

    Parameters
    ----------
    lanes : int
        Number of lanes (SIMD).
    x_shape : Shape
        Shape of one activation (``unsigned(k)`` or ``signed(k)``).
    bits : int
        Index width ``b``.
    values : sequence of int
        The table: index ``j`` is worth ``values[j]`` (1..``2**b`` entries).
    dsp : bool
        Multiply with inferred DSP blocks (``True``) or LUT-only shift-add multipliers.

    Attributes
    ----------
    x : In(ArrayLayout(x_shape, lanes))
        Activations.
    w : In(ArrayLayout(unsigned(bits), lanes))
        Weight indices.
    sum : Out(signed)
        ``sum(values[w[i]] * x[i])``, wide enough for ``lanes * max|x| * max|value|``.

    Raises
    ------
    TypeError
        If ``lanes`` or ``bits`` is not a positive integer or a value not an integer.
    ValueError
        If the table has no values or more than ``2**bits``.
    """

    def __init__(self, lanes: int, x_shape, bits: int, values, *, dsp: bool = True):
        self._dsp = bool(dsp)
        super().__init__(lanes, x_shape, bits, values)

    def elaborate(self, platform):
        m = Module()
        terms = []
        x_shape = self.x.shape().elem_shape
        for i in range(self._lanes):
            m.submodules[f"lane{i}"] = lane = CodebookLane(x_shape, self._bits, self._values,
                                                           dsp=self._dsp)
            m.d.comb += [lane.x.eq(self.x[i]), lane.w.eq(self.w[i])]
            terms.append(lane.product)
        m.d.comb += self.sum.eq(adder_tree(terms))
        return m


class CodebookSumDot(_TableDot):
    """Codebook dot product without a multiplier per lane: one sum per table entry.

    ``sum(values[w[i]] * x[i]) = sum_k values[k] * S_k`` with ``S_k`` the sum of the activations
    whose index is ``k``: each lane adds its activation into the sum its index selects (one
    masked adder tree per entry, none for a value 0), and each sum is multiplied once by its
    constant (:func:`~.fixed_dot.constant_product`). For a small table this trades ``2**b`` adds
    per lane for the lane's multiplier; the cost explorer measures where it pays
    (architecture ``entry_sums``).

    Parameters and attributes are those of :class:`CodebookDot` (without ``dsp``: nothing here
    multiplies).
    """

    def elaborate(self, platform):
        m = Module()
        last = len(self._values) - 1
        terms = []
        for k, value in enumerate(self._values):
            if value == 0:
                continue
            # indices past the table read as its last value
            selected = [Mux(self.w[i] >= k if k == last else self.w[i] == k, self.x[i], 0)
                        for i in range(self._lanes)]
            total = Signal(signed(bits_for(self._lanes * shape_max_abs(self.x.shape().elem_shape))
                                  + 1), name=f"entry{k}")
            m.d.comb += total.eq(adder_tree(selected))
            terms.append(constant_product(total, value))
        m.d.comb += self.sum.eq(adder_tree(terms))
        return m
