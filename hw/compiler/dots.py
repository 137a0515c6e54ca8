"""Dot-product kinds: which unit multiplies one precision pair, and in which domain it counts.

Each kind is a class that answers every question the rest of the generator has about the lanes
of a layer, so nothing else tests which kind it is:

====================  ====================  ============================================
kind                  inputs x weights      per lane
====================  ====================  ============================================
:class:`Xnor`         bipolar x bipolar     ``XNOR``, counted: accumulates the popcount ``P``
:class:`UnsignedXnor` uint1 x bipolar       ``XNOR``, counted, like :class:`Xnor`
:class:`BinaryWeight` fixed x bipolar       add or subtract
:class:`Ternary`      fixed x ternary       add, subtract or skip
:class:`Fixed`        fixed x fixed         multiply (DSP or LUT shift-add)
:class:`TTQ`          fixed x ttq           add to ``P`` or ``N`` or skip; ``Wp*P - Wn*N``
:class:`Codebook`     fixed x codebook      look up the value, multiply (DSP or LUT)
====================  ====================  ============================================

The kinds of weights with a learned table (``ttq``, ``codebook``) need the table to build their
unit: :func:`dot_for` returns the kind bound to the weight encoding (:meth:`DotKind.bind`).

Every kind states how its accumulator ``acc`` of output channel ``c`` maps to the signed dot
product: ``a = s * acc + o[c]`` (:attr:`DotKind.score_scale` ``s``, :meth:`DotKind.offsets`
``o``). The output constants are moved into the accumulator's domain once, with exact integers:

* ``a >= t``  <=>  ``acc >= ceil((t - o[c]) / s)``,
  ``a <= u``  <=>  ``acc <= floor((u - o[c]) / s)``
  (:meth:`DotKind.accumulator_bounds`; thresholds and multi-thresholds);
* scores ``a + bias = s * acc + (o[c] + bias)``; a requantizer's ``a * M + O`` is
  ``acc * (s * M) + (O + o[c] * M)`` (:mod:`.outputs`).

An XNOR layer (bipolar x bipolar, ``K`` lanes) accumulates the count ``P`` of lanes where input
and weight agree, and ``a = 2P - K``: ``s = 2``, ``o[c] = -K``.

A binary first layer (``uint1`` inputs ``u``, bipolar weights ``w``) is counted the same way:
read ``u`` as the bipolar ``x = 2u - 1`` (the same bit), and the XNOR count of row ``c`` is
``P = #{u = 1, w = +1} + #{u = 0, w = -1}``. With ``N[c] = #{w = -1}`` =
``#{u = 1, w = -1} + #{u = 0, w = -1}``, ``P - N[c] = #{u = 1, w = +1} - #{u = 1, w = -1}`` =
``sum(w * u)``: ``s = 1``, ``o[c] = -N[c]``, exact integers per channel.

The padding lanes of a folded layer have input code 0 and :attr:`DotKind.neutral_code` weights,
which must contribute nothing. For both XNOR kinds that is weight code 1 (+1): ``0 XNOR 1 = 0``
is not counted, and a +1 weight is not among the ``N[c]`` (which counts the layer's own weights
only), so neither ``P`` nor ``o[c]`` moves. Every other kind accumulates ``a`` itself and needs a
fixed-point (``uint``/``int``) input, whose code 0 is the value 0, so code 0 weights suffice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from amaranth.hdl import Shape, Value, unsigned
from amaranth.lib import wiring
from amaranth.utils import bits_for

from ...sw.encoding import BIPOLAR, TERNARY, Encoding, uint
from ...sw.errors import QnnforgeError
from ..cores.binary_weight_dot import BinaryWeightDot
from ..cores.codebook_dot import CodebookDot, CodebookLane
from ..cores.fixed_dot import FixedDot, FixedMultiplier
from ..cores.ternary_dot import TernaryDot
from ..cores.ttq_dot import TTQDot
from ..cores.xnor_dot import XnorDot
from .lowering import signed_shape_for
from .options import HardwareOptions

__all__ = ["DotKind", "Xnor", "UnsignedXnor", "BinaryWeight", "Ternary", "Fixed", "TTQ",
           "Codebook", "DOT_KINDS", "dot_for", "UnsupportedPrecisionError"]


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
        ``a = score_scale * acc + offsets(weights)[c]``: how the accumulator of channel ``c``
        maps to the dot product.
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

    def offsets(self, weights: np.ndarray) -> np.ndarray:
        """Return, per output channel ``c``, the constant ``o[c]`` of
        ``a = score_scale * acc + o[c]``.

        Parameters
        ----------
        weights : numpy.ndarray
            The layer's ``(fan_out, fan_in)`` weight values.
        """
        return np.zeros(len(weights), dtype=np.int64)

    def accumulator_bounds(self, limits: np.ndarray, flips: np.ndarray,
                           weights: np.ndarray) -> np.ndarray:
        """Return the bounds ``a >= limit`` (``a <= limit`` where ``flips``) in the accumulator
        domain: ``ceil((limit - o[c]) / s)`` (``floor`` where ``flips``).

        ``limits`` has one row per output channel (``(fan_out,)`` or ``(fan_out, levels)``) and
        ``flips`` broadcasts against it; ``weights`` are the layer's weight values.
        """
        offsets = self.offsets(weights).reshape((-1,) + (1,) * (np.ndim(limits) - 1))
        shifted, scale = limits - offsets, self.score_scale
        return np.where(flips == 1, shifted // scale, -(-shifted // scale))

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

    def offsets(self, weights):
        # a = 2P - K
        return np.full(len(weights), -np.shape(weights)[1], dtype=np.int64)

    def build(self, simd, input_shape, weight_shape, options):
        unit = XnorDot(simd, popcount=options.popcount, lut_inputs=options.lut_inputs)
        return unit, unit.count


class UnsignedXnor(Xnor):
    """``uint1`` x bipolar (a binary first layer): the XNOR-popcount lanes of :class:`Xnor`,
    reading input bit ``u`` as ``x = 2u - 1``; ``a = P - N[c]``, ``N[c]`` the ``-1`` weights of
    row ``c`` (the module docstring derives it).

    The padding weight code stays 1 (+1): an input code 0 against it is not counted, and it is
    not one of the ``N[c]``.
    """

    name = "xnor_uint1"
    score_scale = 1

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding == uint(1) and weight_encoding == BIPOLAR

    def offsets(self, weights):
        # a = P - N[c]
        return -np.count_nonzero(np.asarray(weights) == -1, axis=1).astype(np.int64)


class BinaryWeight(DotKind):
    """Fixed point x bipolar weights (other than ``uint1`` inputs, which :class:`UnsignedXnor`
    counts): add or subtract per lane, no multiplier."""

    name = "binary_weight"

    @staticmethod
    def accepts(input_encoding: Encoding, weight_encoding: Encoding) -> bool:
        return input_encoding not in (BIPOLAR, uint(1)) and weight_encoding == BIPOLAR

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


DOT_KINDS: tuple[DotKind, ...] = (Xnor(), UnsignedXnor(), BinaryWeight(), Ternary(), Fixed(),
                                  TTQ(), Codebook())
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
