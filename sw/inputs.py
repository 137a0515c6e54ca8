"""Input rules: how an artifact turns a user's raw inputs into the network's input integers.

Each rule is a class that carries all of its behaviour (manifest codec, validation, the mapping
itself), so nothing else tests which rule an artifact has. Whatever the rule,
``rule.quantize(x)`` returns the network's input integers as an int64 array
``(n, in_features)`` in channels-last order, legal values of ``rule.encoding`` (unsigned).

================================  =========  =================================================
rule                              manifest   raw inputs
================================  =========  =================================================
:class:`InputQuantizer`           integer    integers ``(n, in_features)`` (the digits' pixels)
:class:`FloatInputQuantizer`      float      floats exactly as an ONNX model takes them (v4)
================================  =========  =================================================

The float rule reproduces a QONNX graph's own float32 input arithmetic (scalar ``Mul``/``Add``/
``Sub``/``Div``, then a ``Quant`` or ``BipolarQuant``) operation for operation, so its codes are
those QONNX's executor computes; it then maps the (possibly signed or bipolar) codes to the
artifact's unsigned input encoding by the exact affine change ``u = code - min`` (bipolar:
``u = (code + 1) / 2``), which the importer folds into the first layer.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .encoding import Encoding, uint
from .manifest import fail, join, read_encoding, read_field

__all__ = ["InputRule", "InputQuantizer", "FloatInputQuantizer", "FloatQuantizer", "Rounding",
           "StepOp", "Step", "INPUT_RULES", "input_rule_from_manifest", "INPUT_LIMIT",
           "FLOAT_INPUT_MAX_BITS"]

INPUT_LIMIT = (1 << 31) - 1
"""Largest magnitude of the integer rule's raw range and multiplier (keeps the rule exact)."""
FLOAT_INPUT_MAX_BITS = 16
"""Widest input code the float rule produces."""


class InputRule(ABC):
    """The protocol every input rule follows.

    Attributes
    ----------
    kind : str
        The manifest's ``input.kind`` (absent before schema version 4: ``"integer"``).
    since_version : int
        The first artifact schema version that has the rule.
    encoding : Encoding
        Encoding of the network's input integers (unsigned).
    raw_shape : tuple of int or None
        Shape of one raw input as the rule takes it (``quantize`` takes ``(n, *raw_shape)``),
        or None for ``(in_features,)``.
    """

    kind: ClassVar[str]
    since_version: ClassVar[int] = 1
    encoding: Encoding

    @abstractmethod
    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Return the input integers (int64, ``(n, in_features)``, channels-last) for ``x``."""

    @abstractmethod
    def validate(self, path: str, in_shape: tuple[int, ...]) -> None:
        """Raise :class:`~.manifest.ArtifactError` naming the field if a value is illegal.

        ``in_shape`` is the first layer's input shape.
        """

    @abstractmethod
    def to_json(self) -> dict:
        """Return the manifest fields of this rule (``kind`` included)."""

    @classmethod
    @abstractmethod
    def from_manifest(cls, entry: dict, path: str) -> InputRule:
        """Return the rule stored at ``entry`` (manifest path ``path``)."""


@dataclass(frozen=True)
class InputQuantizer(InputRule):
    """Exact rule from raw integer features to the network's input integers.

    ``q = clamp((raw * multiplier + 2**(shift-1)) >> shift, 0, 2**bits - 1)``, that is the raw
    value scaled by ``multiplier / 2**shift`` and rounded half up (``shift == 0`` means no
    rounding term). For ``load_digits`` pixels (0..16) into 4 bits: multiplier 15, shift 4.

    Parameters
    ----------
    encoding : Encoding
        Encoding of the quantized input (``uint`` of some width).
    raw_min, raw_max : int
        Legal range of the raw features.
    multiplier, shift : int
        The exact scale ``multiplier / 2**shift``.
    """

    kind: ClassVar[str] = "integer"

    encoding: Encoding
    raw_min: int
    raw_max: int
    multiplier: int
    shift: int

    @property
    def raw_shape(self) -> None:
        return None

    def quantize(self, raw: np.ndarray) -> np.ndarray:
        """Return the input integers for raw integer features.

        Raises
        ------
        ValueError
            If ``raw`` holds non-integers or values outside ``raw_min..raw_max``.
        """
        raw = np.asarray(raw)
        if raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
                raise ValueError("raw features must be integers")
            raw = raw.astype(np.int64)
        elif raw.dtype.kind not in "iu":
            raise TypeError(f"raw features must be an integer array, not {raw.dtype}")
        if raw.size and (raw.min() < self.raw_min or raw.max() > self.raw_max):
            raise ValueError(
                f"raw features must lie in {self.raw_min}..{self.raw_max}, "
                f"not {raw.min()}..{raw.max()}")
        rounding = (1 << (self.shift - 1)) if self.shift else 0
        q = (raw.astype(np.int64) * self.multiplier + rounding) >> self.shift
        return np.clip(q, self.encoding.min, self.encoding.max)

    def validate(self, path: str, in_shape: tuple[int, ...]) -> None:
        if self.encoding.kind != "uint":
            raise fail(join(path, "encoding"),
                       f"must be an unsigned encoding, not {self.encoding}")
        # Within these bounds raw * multiplier + 2**(shift - 1) < 2**62: exact in int64.
        for key in ("raw_min", "raw_max"):
            value = getattr(self, key)
            if not -INPUT_LIMIT <= value <= INPUT_LIMIT:
                raise fail(join(path, key), f"must lie in {-INPUT_LIMIT}..{INPUT_LIMIT}, "
                                            f"not {value}")
        if self.raw_min > self.raw_max:
            raise fail(join(path, "raw_min"), f"must not exceed raw_max ({self.raw_max}), "
                                              f"not {self.raw_min}")
        if not 1 <= self.multiplier <= INPUT_LIMIT:
            raise fail(join(path, "multiplier"), f"must lie in 1..{INPUT_LIMIT}, not "
                                                 f"{self.multiplier}")
        if not 0 <= self.shift <= 31:
            raise fail(join(path, "shift"), f"must lie in 0..31, not {self.shift}")

    def to_json(self) -> dict:
        return {"kind": self.kind, "encoding": self.encoding.to_json(), "raw_min": self.raw_min,
                "raw_max": self.raw_max, "multiplier": self.multiplier, "shift": self.shift}

    @classmethod
    def from_manifest(cls, entry: dict, path: str) -> InputQuantizer:
        return cls(encoding=read_encoding(entry, "encoding", path),
                   raw_min=read_field(entry, "raw_min", path, int),
                   raw_max=read_field(entry, "raw_max", path, int),
                   multiplier=read_field(entry, "multiplier", path, int),
                   shift=read_field(entry, "shift", path, int))


# --- the float rule -------------------------------------------------------------------------------

def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def _round_half_down(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.ceil(np.abs(x) - np.float32(0.5))


def _round_up(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.ceil(np.abs(x))


class Rounding(enum.Enum):
    """A rounding mode of QONNX's ``Quant`` (``rounding_mode``), with QONNX's own numpy rule."""

    ROUND = "ROUND"
    HALF_EVEN = "HALF_EVEN"
    CEIL = "CEIL"
    FLOOR = "FLOOR"
    UP = "UP"
    DOWN = "DOWN"
    HALF_UP = "HALF_UP"
    HALF_DOWN = "HALF_DOWN"

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` rounded to integers (same dtype), as QONNX's executor rounds."""
        return _ROUNDING[self](x)


_ROUNDING = {Rounding.ROUND: np.round, Rounding.HALF_EVEN: np.round, Rounding.CEIL: np.ceil,
             Rounding.FLOOR: np.floor, Rounding.UP: _round_up, Rounding.DOWN: np.fix,
             Rounding.HALF_UP: _round_half_up, Rounding.HALF_DOWN: _round_half_down}


class StepOp(enum.Enum):
    """A scalar float32 operation of the graph's input arithmetic: ``x <op> value``."""

    MUL = "mul"
    ADD = "add"
    SUB = "sub"
    DIV = "div"

    def apply(self, x: np.ndarray, value: np.float32) -> np.ndarray:
        return _STEP_UFUNCS[self](x, value)


_STEP_UFUNCS = {StepOp.MUL: np.multiply, StepOp.ADD: np.add, StepOp.SUB: np.subtract,
                StepOp.DIV: np.divide}


def _float32(value: Any, path: str, positive: bool = False) -> float:
    """Return the manifest number at ``path`` checked to be an exact, finite float32."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(path, f"must be a number, not {value!r}")
    with np.errstate(over="ignore"):
        single = np.float32(value)
    if not np.isfinite(single) or float(single) != value:
        raise fail(path, f"must be a finite float32 value, not {value!r}")
    if positive and not value > 0:
        raise fail(path, f"must be positive, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Step:
    """One scalar operation ``x = x <op> value`` in float32."""

    op: StepOp
    value: float

    def to_json(self) -> dict:
        return {"op": self.op.value, "value": self.value}


@dataclass(frozen=True)
class FloatQuantizer:
    """QONNX's integer quantizer ``Quant`` (and ``BipolarQuant``), as integer codes.

    ``code = round(clamp(x / scale + zero_point, min, max))`` in float32 with QONNX's rounding,
    ``min``/``max`` the ``bits``-wide (``narrow``: symmetric) signed or unsigned range; a 1-bit
    signed quantizer is bipolar, ``code = +1 if x / scale + zero_point >= 0 else -1``, which is
    ``BipolarQuant`` (zero point 0) too.
    """

    scale: float
    zero_point: float
    bits: int
    signed: bool
    narrow: bool
    rounding: Rounding

    @property
    def bipolar(self) -> bool:
        return self.bits == 1 and self.signed

    @property
    def min_code(self) -> int:
        if self.bipolar:
            return -1
        if self.signed:
            return -(1 << (self.bits - 1)) + int(self.narrow)
        return 0

    @property
    def max_code(self) -> int:
        if self.bipolar:
            return 1
        if self.signed:
            return (1 << (self.bits - 1)) - 1
        return (1 << self.bits) - 1 - int(self.narrow)

    @property
    def unsigned_encoding(self) -> Encoding:
        """The unsigned encoding of ``u``: ``uint1`` for bipolar codes, else ``uint(bits)``."""
        return uint(self.bits)

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Return the integer codes (int64) of float32 values ``x``, as QONNX computes them."""
        y = x / np.float32(self.scale) + np.float32(self.zero_point)
        if self.bipolar:
            return np.where(y >= 0, 1, -1).astype(np.int64)
        y = np.clip(y, np.float32(self.min_code), np.float32(self.max_code))
        return self.rounding.apply(y).astype(np.int64)

    def to_unsigned(self, codes: np.ndarray) -> np.ndarray:
        """Return ``u`` for codes: ``(code + 1) / 2`` if bipolar, else ``code - min``."""
        if self.bipolar:
            return (codes + 1) >> 1
        return codes - self.min_code

    def code_affine(self) -> tuple[int, int]:
        """Return ``(a, b)`` with ``code = a * u + b`` (the inverse of :meth:`to_unsigned`)."""
        return (2, -1) if self.bipolar else (1, self.min_code)

    def validate(self, path: str) -> None:
        if not 1 <= self.bits <= FLOAT_INPUT_MAX_BITS:
            raise fail(join(path, "bits"), f"must lie in 1..{FLOAT_INPUT_MAX_BITS}, "
                                           f"not {self.bits}")
        if self.narrow and self.bits == 1:
            raise fail(join(path, "narrow"), "must be false for a 1-bit quantizer")

    def to_json(self) -> dict:
        return {"scale": self.scale, "zero_point": self.zero_point, "bits": self.bits,
                "signed": self.signed, "narrow": self.narrow,
                "rounding_mode": self.rounding.value}

    @classmethod
    def from_manifest(cls, entry: dict, path: str) -> FloatQuantizer:
        rounding = read_field(entry, "rounding_mode", path, str)
        modes = [mode.value for mode in Rounding]
        if rounding not in modes:
            raise fail(join(path, "rounding_mode"), f"must be one of {', '.join(modes)}, "
                                                    f"not {rounding!r}")
        quantizer = cls(scale=_float32(read_field(entry, "scale", path, (int, float)),
                                       join(path, "scale"), positive=True),
                        zero_point=_float32(read_field(entry, "zero_point", path, (int, float)),
                                            join(path, "zero_point")),
                        bits=read_field(entry, "bits", path, int),
                        signed=read_field(entry, "signed", path, bool),
                        narrow=read_field(entry, "narrow", path, bool),
                        rounding=Rounding(rounding))
        quantizer.validate(path)
        return quantizer


@dataclass(frozen=True)
class FloatInputQuantizer(InputRule):
    """Float inputs, exactly as a QONNX model takes them, to the network's input integers.

    ``x`` (one input of shape :attr:`raw_shape`, cast to float32) goes through ``steps`` in
    order (``x = x * value`` and so on, each rounded to float32 as ONNX Runtime does), then
    through ``quantizer`` (QONNX's ``Quant``/``BipolarQuant``), giving codes; ``u = code - min``
    (bipolar: ``(code + 1) / 2``) is the unsigned input integer. An image input ``(C, H, W)``
    (NCHW, as Brevitas exports) is reordered channels-last when ``channels_last`` is set.

    Parameters
    ----------
    encoding : Encoding
        ``uint(bits)`` of the quantizer (``uint1`` for bipolar codes).
    raw_shape : tuple of int
        Shape of one input as the ONNX model takes it, without the batch axis.
    channels_last : bool
        Whether ``raw_shape`` is ``(C, H, W)`` and the network reads ``(H, W, C)``.
    steps : tuple of Step
        The graph's scalar arithmetic before its input quantizer.
    quantizer : FloatQuantizer
        The graph's input quantizer.
    """

    kind: ClassVar[str] = "float"
    since_version: ClassVar[int] = 4

    encoding: Encoding
    raw_shape: tuple[int, ...]
    channels_last: bool
    steps: tuple[Step, ...]
    quantizer: FloatQuantizer

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Return the input integers for a batch ``x`` of shape ``(n, *raw_shape)`` (or
        ``(n, prod(raw_shape))``).

        Raises
        ------
        TypeError
            If ``x`` is not a numeric array.
        ValueError
            If ``x`` has another shape or holds NaN or infinities.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise TypeError(f"inputs must be a numeric array, not {x.dtype}")
        size = int(np.prod(self.raw_shape))
        if x.ndim < 1 or x.shape[1:] not in (tuple(self.raw_shape), (size,)):
            shapes = [f"(n, {', '.join(map(str, self.raw_shape))})"]
            shapes += [f"(n, {size})"] if len(self.raw_shape) > 1 else []
            raise ValueError(f"inputs must have shape {' or '.join(shapes)}, not {x.shape}")
        x = x.astype(np.float32).reshape(len(x), *self.raw_shape)
        if not np.all(np.isfinite(x)):
            raise ValueError("inputs must be finite (no NaN or infinity)")
        for step in self.steps:
            x = step.op.apply(x, np.float32(step.value))
        u = self.quantizer.to_unsigned(self.quantizer.codes(x))
        if self.channels_last:
            u = u.transpose(0, 2, 3, 1)
        return u.reshape(len(u), -1).astype(np.int64)

    def validate(self, path: str, in_shape: tuple[int, ...]) -> None:
        self.quantizer.validate(join(path, "quantizer"))
        if self.encoding != self.quantizer.unsigned_encoding:
            raise fail(join(path, "encoding"), f"must be {self.quantizer.unsigned_encoding} "
                                               f"(the quantizer's), not {self.encoding}")
        if not self.raw_shape or any(not isinstance(d, int) or d < 1 for d in self.raw_shape):
            raise fail(join(path, "raw_shape"), f"must be positive integers, not "
                                                f"{list(self.raw_shape)}")
        if self.channels_last:
            if len(self.raw_shape) != 3:
                raise fail(join(path, "channels_last"), f"needs a (C, H, W) raw_shape, not "
                                                        f"{list(self.raw_shape)}")
            channels, height, width = self.raw_shape
            expected = (height, width, channels)
            if tuple(in_shape) != expected:
                raise fail(join(path, "raw_shape"), f"must be the first layer's input "
                                                    f"{list(in_shape)} in (C, H, W) order, not "
                                                    f"{list(self.raw_shape)}")
        elif int(np.prod(self.raw_shape)) != int(np.prod(in_shape)):
            raise fail(join(path, "raw_shape"), f"must hold {int(np.prod(in_shape))} elements "
                                                f"(the first layer's input), not "
                                                f"{list(self.raw_shape)}")

    def to_json(self) -> dict:
        return {"kind": self.kind, "encoding": self.encoding.to_json(),
                "raw_shape": list(self.raw_shape), "channels_last": self.channels_last,
                "steps": [step.to_json() for step in self.steps],
                "quantizer": self.quantizer.to_json()}

    @classmethod
    def from_manifest(cls, entry: dict, path: str) -> FloatInputQuantizer:
        raw_shape = read_field(entry, "raw_shape", path, list)
        for index, value in enumerate(raw_shape):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail(f"{join(path, 'raw_shape')}[{index}]",
                           f"must be a positive integer, not {value!r}")
        steps = []
        for index, step in enumerate(read_field(entry, "steps", path, list)):
            where = f"{join(path, 'steps')}[{index}]"
            op = read_field(step, "op", where, str)
            ops = [member.value for member in StepOp]
            if op not in ops:
                raise fail(join(where, "op"), f"must be one of {', '.join(ops)}, not {op!r}")
            value = _float32(read_field(step, "value", where, (int, float)),
                             join(where, "value"))
            steps.append(Step(StepOp(op), value))
        return cls(encoding=read_encoding(entry, "encoding", path), raw_shape=tuple(raw_shape),
                   channels_last=read_field(entry, "channels_last", path, bool),
                   steps=tuple(steps),
                   quantizer=FloatQuantizer.from_manifest(
                       read_field(entry, "quantizer", path, dict), join(path, "quantizer")))


INPUT_RULES: dict[str, type[InputRule]] = {
    rule.kind: rule for rule in (InputQuantizer, FloatInputQuantizer)}
"""Every input rule, by its manifest ``input.kind``."""


def input_rule_from_manifest(entry: dict, path: str, version: int) -> InputRule:
    """Return the input rule stored at ``entry`` in a schema-``version`` manifest.

    Before version 4 the entry has no ``kind`` and is the integer rule.

    Raises
    ------
    ArtifactError
        If the kind is unknown or newer than ``version``, or a field is malformed.
    """
    if version < 4:
        return InputQuantizer.from_manifest(entry, path)
    kind = read_field(entry, "kind", path, str)
    known = [name for name, rule in INPUT_RULES.items() if rule.since_version <= version]
    if kind not in known:
        raise fail(join(path, "kind"), f"must be {' or '.join(map(repr, known))}, "
                                       f"not {kind!r}")
    return INPUT_RULES[kind].from_manifest(entry, path)
