"""The designs the cost explorer synthesizes: the accelerator's own dot units, alone or in a MAC.

Operands are described by :class:`~qnnforge.sw.encoding.Encoding`, as in the model artifact,
and each pair selects the unit the matrix-vector unit builds for it:

==================================  ===================================================
activations x weights               unit
==================================  ===================================================
bipolar x bipolar                   :class:`~qnnforge.hw.cores.xnor_dot.XnorDot`
fixed x bipolar                     :class:`~qnnforge.hw.cores.binary_weight_dot.BinaryWeightDot`
any x ternary                       :class:`~qnnforge.hw.cores.ternary_dot.TernaryDot`
fixed x fixed                       :class:`~qnnforge.hw.cores.fixed_dot.FixedDot`
fixed x codebook                    :class:`~qnnforge.hw.cores.codebook_dot.CodebookDot`
==================================  ===================================================

A codebook of ``b`` bits (``cbB`` on the command line) holds :func:`codebook_table`: ``2**b``
distinct 8-bit values drawn at random with a fixed seed, standing for a learned table (an
evenly spaced one would let synthesis simplify the lookup more than a trained one allows).

:class:`Mac` is a registered accumulator around the one-lane unit. A fixed-point or codebook dot
product of many lanes is synthesized as :class:`LaneDot`: the lane of its dot kind
(:meth:`~qnnforge.hw.compiler.dots.DotKind.lane`: the ``product`` every ``FixedDot`` lane
computes, or a codebook lane's lookup and product) written once as a Verilog module and
instantiated per lane, summed by the same
:func:`~qnnforge.hw.cores.popcount.adder_tree`. Synthesis then maps a lane once: a 256-lane
32-bit LUT-only dot product (about 700 000 LUT6) takes a minute instead of hours.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from amaranth.hdl import Instance, Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ...sw.encoding import BIPOLAR, TERNARY, Encoding, codebook, sint, uint
from ...sw.layers.dense import accumulator_bound
from ..compiler.dots import DotKind, dot_for
from ..compiler.lowering import element_shape
from ..compiler.options import HardwareOptions
from ..cores.codebook_dot import CodebookLane
from ..cores.fixed_dot import FixedMultiplier
from ..cores.params import positive_int
from ..cores.popcount import adder_tree

__all__ = ["Design", "parse_precision", "parse_pair", "precision_name", "codebook_table",
           "dot_kind", "dot_unit", "accumulator_shape", "Mac", "LaneDot", "lane_dot_verilog"]

CODEBOOK_VALUE_BITS = 8
"""Width of the values of the explorer's codebook tables (as the trainer's)."""


class Design(NamedTuple):
    """A design ready for Yosys.

    Attributes
    ----------
    verilog : str
        Its Verilog, every module included.
    flatten : bool
        Whether synthesis flattens it (``False`` maps each module once).
    latency : int
        Cycles from operands to result (0: combinational).
    """

    verilog: str
    flatten: bool
    latency: int


def parse_precision(text: str) -> Encoding:
    """Return the encoding a command-line precision names.

    ``1`` is bipolar, ``ternary`` (or ``t``) ternary, ``2`` ... ``32`` signed fixed point,
    ``u1`` ... ``u32`` unsigned and ``cb1`` ... ``cb7`` a codebook of that many index bits
    (:func:`codebook_table`).

    Raises
    ------
    ValueError
        If ``text`` names none of them.
    """
    name = str(text).strip().lower()
    if name in ("t", "ternary"):
        return TERNARY
    table = re.fullmatch(r"cb([0-9]+)", name)
    if table and 1 <= int(table[1]) <= 7:
        return codebook(int(table[1]), codebook_table(int(table[1])))
    match = re.fullmatch(r"(u?)([0-9]+)", name)
    if match and match[1] and 1 <= int(match[2]) <= 32:
        return uint(int(match[2]))
    if match and 1 <= int(match[2]) <= 32:
        return BIPOLAR if int(match[2]) == 1 else sint(int(match[2]))
    raise ValueError(f"precision must be 1, ternary, a width from 2 to 32, u1 to u32 or cb1 to "
                     f"cb7, not {text!r}")


def parse_pair(text: str) -> tuple[Encoding, Encoding]:
    """Return the ``(activations, weights)`` a command-line operand pair names: ``AxW`` (e.g.
    ``8xcb4``: 8-bit activations, a 4-bit codebook), or one precision for both.

    Raises
    ------
    ValueError
        If a part names no precision (:func:`parse_precision`).
    """
    parts = str(text).strip().lower().split("x")
    if len(parts) == 2:
        return parse_precision(parts[0]), parse_precision(parts[1])
    encoding = parse_precision(text)
    return encoding, encoding


def codebook_table(bits: int) -> tuple[int, ...]:
    """Return the explorer's table of a ``bits``-bit codebook: ``2**bits`` distinct values of
    :data:`CODEBOOK_VALUE_BITS` bits, drawn with seed ``bits``, sorted, the extremes
    ``-127``/``127`` included (a trained table spans its range)."""
    high = (1 << (CODEBOOK_VALUE_BITS - 1)) - 1
    rng = np.random.default_rng(bits)
    inner = rng.choice(np.arange(-high + 1, high), size=(1 << bits) - 2, replace=False) \
        if bits > 1 else []
    return tuple(sorted({-high, high, *(int(v) for v in inner)}))


def precision_name(encoding: Encoding) -> str:
    """Return the command-line name of ``encoding`` (the inverse of :func:`parse_precision`)."""
    if encoding == BIPOLAR:
        return "1"
    if encoding == TERNARY:
        return "ternary"
    if encoding.kind == "codebook":
        return f"cb{encoding.bits}"
    return f"{'' if encoding.signed else 'u'}{encoding.bits}"


def _check_encoding(name: str, encoding) -> Encoding:
    if not isinstance(encoding, Encoding):
        raise TypeError(f"{name} must be an Encoding, not {encoding!r}")
    return encoding


def dot_kind(activations: Encoding, weights: Encoding) -> DotKind:
    """Return the dot-product kind the accelerator uses for these operand encodings.

    Raises
    ------
    TypeError
        If an encoding is not an :class:`Encoding`.
    UnsupportedPrecisionError
        If bipolar activations meet weights that are not bipolar.
    """
    return dot_for("dot unit", _check_encoding("activations", activations),
                   _check_encoding("weights", weights))


def dot_unit(activations: Encoding, weights: Encoding, lanes: int, *,
             popcount: str = "adder_tree", lut_inputs: int = 6,
             dsp: bool = True) -> tuple[wiring.Component, Value]:
    """Return the accelerator's dot unit of ``lanes`` lanes for these operand encodings, and
    its per-cycle result: what the matrix-vector unit builds (:mod:`~qnnforge.hw.compiler.dots`).

    ``popcount`` and ``lut_inputs`` shape an XNOR unit, ``dsp`` a fixed-point one;
    the other units have no such choice.

    Raises
    ------
    TypeError
        If an encoding is not an :class:`Encoding` or ``lanes`` not a positive integer.
    ValueError
        If bipolar activations meet weights that are not bipolar, or ``popcount`` or
        ``lut_inputs`` are invalid.
    """
    kind = dot_kind(activations, weights)
    return kind.build(lanes, element_shape(activations), element_shape(weights),
                      HardwareOptions(dsp=dsp, popcount=popcount, lut_inputs=lut_inputs))


def accumulator_shape(activations: Encoding, weights: Encoding, terms: int) -> Shape:
    """Return the smallest shape holding any sum of ``terms`` products of the two encodings
    (the dot kind's accumulator, as the matrix-vector unit sizes it)."""
    bound = accumulator_bound(terms, activations, weights)
    return dot_kind(activations, weights).accumulator_shape(terms, bound)


class Mac(wiring.Component):
    """Multiply-accumulate: a registered accumulator around the accelerator's one-lane unit.

    ``acc`` becomes the lane's product when ``first`` is high and ``acc`` plus it otherwise,
    every cycle. For bipolar operands the product is the agreement count (0 or 1).

    Parameters
    ----------
    activations, weights : Encoding
        Operand encodings (they choose the unit, see :func:`dot_unit`).
    terms : int
        Products accumulated before ``first`` restarts the sum; sizes the accumulator.
    dsp : bool
        For fixed-point operands: multiply with ``*`` (which synthesis may map to a DSP block)
        or with LUT-only shift-add.

    Attributes
    ----------
    x : In(element_shape(activations))
    w : In(element_shape(weights))
        Operands.
    first : In(1)
        Start a new sum with this product.
    acc : Out(accumulator_shape(activations, weights, terms))
        The running sum, one cycle after its last product.

    Raises
    ------
    TypeError
        If an encoding is not an :class:`Encoding` or ``terms`` not a positive integer.
    """

    def __init__(self, activations: Encoding, weights: Encoding, terms: int = 1024, *,
                 dsp: bool = True):
        self._unit, self._product = dot_unit(activations, weights, 1, dsp=dsp)
        terms = positive_int("terms", terms)
        super().__init__({"x": In(element_shape(activations)), "w": In(element_shape(weights)),
                          "first": In(1),
                          "acc": Out(accumulator_shape(activations, weights, terms))})

    @property
    def unit(self) -> wiring.Component:
        """The accelerator's one-lane dot unit the MAC accumulates."""
        return self._unit

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._unit
        m.d.comb += [unit.x.eq(self.x), unit.w.eq(self.w)]
        product = self._product
        m.d.sync += self.acc.eq(Mux(self.first, product, self.acc + product))
        return m


class LaneDot(wiring.Component):
    """Combinational dot product whose lanes are instances of a lane module.

    Lane ``i`` is an instance of the Verilog module ``lane_module``, which must be ``lane``
    converted under that name (see :func:`lane_dot_verilog`); the products are summed by
    :func:`~qnnforge.hw.cores.popcount.adder_tree`, as in :class:`FixedDot`.

    Parameters
    ----------
    lane : wiring.Component
        The product of one lane (ports ``x``, ``w``, ``product``): a
        :class:`~qnnforge.hw.cores.fixed_dot.FixedMultiplier` or a
        :class:`~qnnforge.hw.cores.codebook_dot.CodebookLane`.
    lanes : int
        Number of lanes.
    lane_module : str
        Name of the lane's Verilog module.

    Attributes
    ----------
    x : In(ArrayLayout(lane.x.shape(), lanes))
    w : In(ArrayLayout(lane.w.shape(), lanes))
    sum : Out(signed)
        The sum of the lanes' products, wide enough for ``lanes`` of the widest product.

    Raises
    ------
    TypeError
        If ``lane`` is not a :class:`FixedMultiplier` or a :class:`CodebookLane`, or ``lanes``
        not a positive integer.
    """

    def __init__(self, lane: wiring.Component, lanes: int, lane_module: str):
        if not isinstance(lane, (FixedMultiplier, CodebookLane)):
            raise TypeError(f"lane must be a FixedMultiplier or a CodebookLane, not {lane!r}")
        self._lanes = positive_int("LaneDot lanes", lanes)
        self._product_shape, self._lane_module = lane.product.shape(), lane_module
        x_shape, w_shape = lane.x.shape(), lane.w.shape()
        bound = lanes * lane.bound
        super().__init__({"x": In(data.ArrayLayout(x_shape, lanes)),
                          "w": In(data.ArrayLayout(w_shape, lanes)),
                          "sum": Out(signed(bits_for(bound) + 1))})

    @property
    def lanes(self) -> int:
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        products = []
        for i in range(self._lanes):
            product = Signal(self._product_shape, name=f"p{i}")
            m.submodules[f"lane{i}"] = Instance(self._lane_module, i_x=self.x[i], i_w=self.w[i],
                                                o_product=product)
            products.append(product)
        m.d.comb += self.sum.eq(adder_tree(products))
        return m


def lane_dot_verilog(activations: Encoding, weights: Encoding, lanes: int, top: str, *,
                     dsp: bool = True) -> str:
    """Return the Verilog of a :class:`LaneDot` named ``top`` and of its lane module, the lane
    of the operands' dot kind (``dsp`` as there) named ``top + "_lane"``."""
    from amaranth.back import verilog

    lane = dot_kind(activations, weights).lane(element_shape(activations),
                                               element_shape(weights), dsp)
    lane_module = f"{top}_lane"
    lane_verilog = verilog.convert(lane, name=lane_module, emit_src=False)
    dot = verilog.convert(LaneDot(lane, lanes, lane_module), name=top, emit_src=False)
    return lane_verilog + "\n" + dot
