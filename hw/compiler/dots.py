"""Dot-product kinds: which unit multiplies one precision pair, and in which domain it counts.

Each kind is a class that answers every question the rest of the generator has about the lanes
of a layer, so nothing else tests which kind it is:

==================  ====================  ==============================================
kind                inputs x weights      per lane
==================  ====================  ==============================================
:class:`Xnor`       bipolar x bipolar     ``XNOR``, counted: accumulates the popcount ``P``
:class:`BinaryWeight` fixed x bipolar     add or subtract
:class:`Ternary`    fixed x ternary       add, subtract or skip
:class:`Fixed`      fixed x fixed         multiply (DSP or LUT shift-add)
:class:`TTQ`        fixed x ttq           add to ``P`` or ``N`` or skip; ``Wp*P - Wn*N``
:class:`Codebook`   fixed x codebook      look up the value, multiply (DSP or LUT)
==================  ====================  ==============================================

The kinds of weights with a learned table (``ttq``, ``codebook``) need the table to build their
unit: :func:`dot_for` returns the kind bound to the weight encoding (:meth:`DotKind.bind`).

An XNOR layer accumulates ``P`` instead of the signed dot product ``a = 2P - K``; its constants
are moved into the count domain once, with exact integers (:meth:`DotKind.accumulator_bounds`):

* ``a >= t``  <=>  ``P >= ceil((t + K) / 2)``
* ``a <= u``  <=>  ``P <= floor((u + K) / 2)``

Every other kind accumulates ``a`` itself and needs a fixed-point (``uint``/``int``) input, whose
code 0 is the value 0, so the padding lanes of a folded layer (input code 0) contribute nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from amaranth.hdl import Shape, Signal, Value, unsigned
from amaranth.lib import wiring
from amaranth.utils import bits_for

from ...sw.encoding import BIPOLAR, TERNARY, Encoding
from ...sw.errors import QnnforgeError
from ..cores.binary_weight_dot import BinaryWeightDot
from ..cores.codebook_dot import CodebookDot, CodebookLane
from ..cores.fixed_dot import FixedDot, FixedMultiplier
from ..cores.ternary_dot import TernaryDot
from ..cores.ttq_dot import TTQDot
from ..cores.xnor_dot import XnorDot
from .lowering import signed_shape_for
from .options import HardwareOptions

__all__ = ["DotKind", "Xnor", "BinaryWeight", "Ternary", "Fixed", "TTQ", "Codebook", "DOT_KINDS",
           "dot_for", "UnsupportedPrecisionError"]


class UnsupportedPrecisionError(QnnforgeError, ValueError):
    """A layer's precision pair has no hardware implementation."""


class DotKind(ABC):
    """The protocol of a dot-product kind.

    Attributes
    ----------
    name : str
        The kind's name in design.json.
    neutral_code : int
        Weight code of a padding lane: with the padding input code 0 it adds nothing.
    score_scale : int
        ``a = score_scale * acc + score_offset(K)``: how the accumulator maps to the dot product.
    counts : bool
        The lanes are XNOR-popcount lanes (their popcount architecture can be chosen).
    multiplies : bool
        Each lane has a multiplier (a DSP block, or LUTs without one).
    """

    name: ClassVar[str]
    neutral_code: ClassVar[int] = 0
    score_scale: ClassVar[int] = 1
    counts: ClassVar[bool] = False
    multiplies: ClassVar[bool] = False

    @staticmethod
    @abstractmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        """Return whether this kind multiplies ``input_encoding`` by ``weight_encoding``."""

    def bind(self, weight_encoding: Encoding) -> DotKind:
        """Return this kind for weights of ``weight_encoding`` (itself, unless the unit needs
        the encoding's table)."""
        return self

    def accumulator_shape(self, fan_in: int, bound: int) -> Shape:
        """Return the accumulator shape over ``fan_in`` lanes whose ``|a| <= bound``."""
        return signed_shape_for(-bound, bound)

    def accumulator_bounds(self, limits: np.ndarray, flips: np.ndarray,
                           fan_in: int) -> np.ndarray:
        """Return the bounds ``a >= limit`` (``a <= limit`` where ``flips``) in the accumulator
        domain."""
        return limits

    def score_offset(self, fan_in: int) -> int:
        """Return the constant in ``a = score_scale * acc + score_offset``."""
        return 0

    def signed_dot(self, m, name: str, total: Value, fan_in: int) -> Value:
        """Return the signed dot product ``a`` of an accumulator value ``total``."""
        return total

    @abstractmethod
    def build(self, simd: int, input_shape: Shape, weight_shape: Shape,
              options: HardwareOptions) -> tuple[wiring.Component, Value]:
        """Return a unit of ``simd`` lanes (ports ``x``, ``w``) and its per-cycle result."""

    def lane(self, input_shape: Shape, weight_shape: Shape, dsp: bool) -> wiring.Component:
        """Return one lane of a kind that :attr:`multiplies` (ports ``x``, ``w``, ``product``),
        which the cost explorer instantiates per lane.

        Raises
        ------
        ValueError
            If this kind has no multiplier per lane.
        """
        raise ValueError(f"the {self.name} dot kind has no multiplier per lane")


class Xnor(DotKind):
    """Bipolar x bipolar: XNOR and popcount; the accumulator holds the count ``P``."""

    name = "xnor"
    neutral_code = 1  # 0 XNOR 1 = 0: not counted
    score_scale = 2
    counts = True

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding == BIPOLAR and weight_encoding == BIPOLAR

    def accumulator_shape(self, fan_in: int, bound: int) -> Shape:
        return unsigned(bits_for(fan_in))

    def accumulator_bounds(self, limits: np.ndarray, flips: np.ndarray,
                           fan_in: int) -> np.ndarray:
        return np.where(flips == 1, (limits + fan_in) // 2, -((-(limits + fan_in)) // 2))

    def score_offset(self, fan_in: int) -> int:
        return -fan_in

    def signed_dot(self, m, name: str, total: Value, fan_in: int) -> Value:
        dot = Signal(signed_shape_for(-fan_in, fan_in), name=name)
        m.d.comb += dot.eq(total * 2 - fan_in)
        return dot

    def build(self, simd, input_shape, weight_shape, options):
        unit = XnorDot(simd, popcount=options.popcount, lut_inputs=options.lut_inputs)
        return unit, unit.count


class BinaryWeight(DotKind):
    """Fixed point x bipolar weights: add or subtract per lane, no multiplier."""

    name = "binary_weight"

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding != BIPOLAR and weight_encoding == BIPOLAR

    def build(self, simd, input_shape, weight_shape, options):
        unit = BinaryWeightDot(simd, input_shape)
        return unit, unit.sum


class Ternary(DotKind):
    """Fixed point x ternary weights: add, subtract or skip per lane, no multiplier."""

    name = "ternary"

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding != BIPOLAR and weight_encoding == TERNARY

    def build(self, simd, input_shape, weight_shape, options):
        unit = TernaryDot(simd, input_shape)
        return unit, unit.sum


class Fixed(DotKind):
    """Fixed point x fixed point: a multiplier per lane (inferred DSP or LUT shift-add)."""

    name = "fixed"
    multiplies = True

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding != BIPOLAR and weight_encoding.kind in ("uint", "int")

    def build(self, simd, input_shape, weight_shape, options):
        unit = FixedDot(simd, input_shape, weight_shape, dsp=options.dsp)
        return unit, unit.sum

    def lane(self, input_shape, weight_shape, dsp):
        return FixedMultiplier(input_shape, weight_shape, dsp=dsp)


class _TableKind(DotKind):
    """A kind whose unit needs the weight encoding's table; :meth:`bind` gives it the table."""

    table_kind: ClassVar[str]

    def __init__(self, weight_encoding: Encoding | None = None):
        self._encoding = weight_encoding

    @classmethod
    def accepts(cls, input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding != BIPOLAR and weight_encoding.kind == cls.table_kind

    def bind(self, weight_encoding: Encoding) -> DotKind:
        return type(self)(weight_encoding)

    @property
    def weight_encoding(self) -> Encoding:
        """The weight encoding this kind was bound to.

        Raises
        ------
        ValueError
            If it is the unbound kind of :data:`DOT_KINDS`.
        """
        if self._encoding is None:
            raise ValueError(f"the {self.name} dot kind needs its weight table: bind it to a "
                             f"weight encoding first")
        return self._encoding

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._encoding == self._encoding

    def __hash__(self) -> int:
        return hash((type(self), self._encoding))


class TTQ(_TableKind):
    """Fixed point x TTQ weights: add, subtract or skip per lane into two sums ``P`` and ``N``,
    then ``Wp * P - Wn * N`` by constant shift-add, once per PE."""

    name = "ttq"
    table_kind = "ttq"

    def build(self, simd, input_shape, weight_shape, options):
        negative, _, positive = self.weight_encoding.values
        unit = TTQDot(simd, input_shape, positive, -negative)
        return unit, unit.sum


class Codebook(_TableKind):
    """Fixed point x codebook weights: each lane looks its index up in the layer's constant
    table and multiplies (inferred DSP or LUT shift-add)."""

    name = "codebook"
    table_kind = "codebook"
    multiplies = True

    def build(self, simd, input_shape, weight_shape, options):
        encoding = self.weight_encoding
        unit = CodebookDot(simd, input_shape, encoding.bits, encoding.values, dsp=options.dsp)
        return unit, unit.sum

    def lane(self, input_shape, weight_shape, dsp):
        encoding = self.weight_encoding
        return CodebookLane(input_shape, encoding.bits, encoding.values, dsp=dsp)


DOT_KINDS: tuple[DotKind, ...] = (Xnor(), BinaryWeight(), Ternary(), Fixed(), TTQ(), Codebook())
"""Every dot-product kind; at most one accepts a precision pair."""


def dot_for(what: str, input_encoding: Encoding, weight_encoding: Encoding) -> DotKind:
    """Return the dot-product kind of ``what`` (e.g. ``"layer 'fc1'"``) with these encodings.

    Raises
    ------
    UnsupportedPrecisionError
        If no kind implements the pair (bipolar inputs with non-bipolar weights).
    """
    for kind in DOT_KINDS:
        if kind.accepts(input_encoding, weight_encoding):
            return kind.bind(weight_encoding)
    raise UnsupportedPrecisionError(f"{what}: {weight_encoding} weights with {input_encoding} "
                                    f"inputs have no hardware implementation")
