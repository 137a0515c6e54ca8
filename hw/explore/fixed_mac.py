"""Multiply-accumulate units at every precision the cost explorer compares.

A :class:`Precision` names the operand format: ``"1"`` (bipolar bits, product by XNOR, counted in
the popcount domain), ``"ternary"`` (operands in {-1, 0, +1}, product by add/subtract/skip), or
a signed fixed-point width ``"2"`` ... ``"32"`` (product by ``*``, which Yosys may map to DSPs).

:class:`Mac` is one lane with its accumulator; :class:`DotProduct` is the combinational sum of
``lanes`` products, built as one lane module instantiated ``lanes`` times plus an adder tree, so
that synthesis maps a lane once (see ``flatten`` in :func:`~qnnforge.hw.tools.synth.synthesize`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amaranth.hdl import Instance, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..cores.popcount import adder_tree

__all__ = ["Precision", "Lane", "Mac", "DotProduct", "accumulator_shape", "dot_verilog",
           "parse_precision"]


@dataclass(frozen=True)
class Precision:
    """Operand format of a MAC.

    Attributes
    ----------
    name : str
        ``"1"``, ``"ternary"`` or the signed width as a decimal string.
    bits : int
        Bits of one operand (2 for ternary).
    """

    name: str
    bits: int

    @property
    def operand_shape(self) -> Shape:
        return unsigned(1) if self.name == "1" else signed(self.bits)

    @property
    def max_product(self) -> int:
        """Largest ``|x * w|`` (1 for XNOR, counted as agreement)."""
        if self.name in ("1", "ternary"):
            return 1
        return (1 << (self.bits - 1)) ** 2

    @property
    def product_shape(self) -> Shape:
        if self.name == "1":
            return unsigned(1)
        if self.name == "ternary":
            return signed(2)
        return signed(2 * self.bits)


def parse_precision(text: str) -> Precision:
    """Return the :class:`Precision` named ``text`` (``"1"``, ``"ternary"``/``"t"``, ``"2"``...).

    Raises
    ------
    ValueError
        If ``text`` is not ``1``, ``ternary`` or an integer width from 2 to 64.
    """
    name = str(text).strip().lower()
    if name in ("t", "ternary"):
        return Precision("ternary", 2)
    if re.fullmatch(r"[0-9]+", name) and 1 <= int(name) <= 64:
        return Precision(str(int(name)), int(name))
    raise ValueError(f"precision must be 1, ternary or a width from 2 to 64, not {text!r}")


def _product(precision: Precision, x, w):
    if precision.name == "1":
        return ~(x ^ w)
    if precision.name == "ternary":
        # w = 0 skips the lane, w < 0 subtracts x, w > 0 adds it: no multiplier
        return Mux(w == 0, 0, Mux(w[1], -x, x))
    return x * w


class Lane(wiring.Component):
    """One product ``x * w`` at ``precision`` (XNOR for 1 bit, add/subtract/skip for ternary).

    Attributes
    ----------
    x, w : In(precision.operand_shape)
        Operands.
    p : Out(precision.product_shape)
        Their product.
    """

    def __init__(self, precision: Precision):
        if not isinstance(precision, Precision):
            raise TypeError(f"precision must be a Precision, not {precision!r}")
        self._precision = precision
        shape = precision.operand_shape
        super().__init__({"x": In(shape), "w": In(shape), "p": Out(precision.product_shape)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(_product(self._precision, self.x, self.w))
        return m


def accumulator_shape(precision: Precision, terms: int) -> Shape:
    """Return the smallest shape holding any sum of ``terms`` products.

    ``bits_for(terms * max|x*w|)`` magnitude bits, signed unless the precision is 1 bit (whose
    products count agreements, 0 or 1).
    """
    most = terms * precision.max_product
    return unsigned(bits_for(most)) if precision.name == "1" else signed(bits_for(most) + 1)


class Mac(wiring.Component):
    """Multiply-accumulate with a registered accumulator of ``terms`` products.

    ``acc`` becomes ``x * w`` when ``first`` is high and ``acc + x * w`` otherwise, every cycle.

    Parameters
    ----------
    precision : Precision
        Operand format.
    terms : int
        Products accumulated before ``first`` restarts the sum; sizes the accumulator.

    Attributes
    ----------
    x, w : In(precision.operand_shape)
        Operands.
    first : In(1)
        Start a new sum with this product.
    acc : Out(accumulator_shape(precision, terms))
        The running sum, one cycle after its last product.

    Raises
    ------
    TypeError
        If ``precision`` is not a :class:`Precision`.
    ValueError
        If ``terms`` is not a positive integer.
    """

    def __init__(self, precision: Precision, terms: int = 1024):
        if not isinstance(precision, Precision):
            raise TypeError(f"precision must be a Precision, not {precision!r}")
        if not isinstance(terms, int) or isinstance(terms, bool) or terms < 1:
            raise ValueError(f"terms must be a positive integer, not {terms!r}")
        self._precision, self._terms = precision, terms
        shape = precision.operand_shape
        super().__init__({"x": In(shape), "w": In(shape), "first": In(1),
                          "acc": Out(accumulator_shape(precision, terms))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.lane = lane = Lane(self._precision)
        m.d.comb += [lane.x.eq(self.x), lane.w.eq(self.w)]
        m.d.sync += self.acc.eq(Mux(self.first, lane.p, self.acc + lane.p))
        return m


class DotProduct(wiring.Component):
    """Combinational ``sum(x[i] * w[i])`` over ``lanes`` lanes of a precision.

    Parameters
    ----------
    precision : Precision
        Operand format.
    lanes : int
        Number of lanes.
    lane_module : str
        Name of the Verilog module holding one :class:`Lane`; the dot product instantiates it
        ``lanes`` times and its Verilog must be supplied alongside (see :func:`dot_verilog`).

    Attributes
    ----------
    x, w : In(lanes * precision.bits)
        Operands, lane ``i`` in bits ``[i * bits, (i + 1) * bits)``.
    sum : Out(accumulator_shape(precision, lanes))
        The dot product.

    Raises
    ------
    TypeError
        If ``precision`` is not a :class:`Precision` or ``lanes`` not a positive integer.
    """

    def __init__(self, precision: Precision, lanes: int, lane_module: str = "qnnforge_lane"):
        if not isinstance(precision, Precision):
            raise TypeError(f"precision must be a Precision, not {precision!r}")
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
            raise TypeError(f"lanes must be a positive integer, not {lanes!r}")
        self._precision, self._lanes, self._lane_module = precision, lanes, lane_module
        width = lanes * precision.operand_shape.width
        super().__init__({"x": In(width), "w": In(width),
                          "sum": Out(accumulator_shape(precision, lanes))})

    def elaborate(self, platform):
        m = Module()
        bits = self._precision.operand_shape.width
        products = []
        for i in range(self._lanes):
            product = Signal(self._precision.product_shape, name=f"p{i}")
            m.submodules[f"lane{i}"] = Instance(
                self._lane_module, i_x=self.x[i * bits:(i + 1) * bits],
                i_w=self.w[i * bits:(i + 1) * bits], o_p=product)
            products.append(product)
        m.d.comb += self.sum.eq(adder_tree(products))
        return m


def dot_verilog(precision: Precision, lanes: int, top: str) -> str:
    """Return the Verilog of a :class:`DotProduct` named ``top`` together with its lane module."""
    from amaranth.back import verilog

    lane_module = f"{top}_lane"
    lane = verilog.convert(Lane(precision), name=lane_module, emit_src=False)
    dot = verilog.convert(DotProduct(precision, lanes, lane_module), name=top, emit_src=False)
    return lane + "\n" + dot
