"""Output rules: what a layer does with its integer accumulators.

Each rule is a class that carries all of its behaviour, so nothing else tests which rule it has:
its manifest codec (:meth:`to_manifest`, :meth:`from_manifest`), its validation against the
layer's accumulator bound (:meth:`validate`) and its integer reference (:meth:`apply`, the
functions of :mod:`.reference`). The hardware side of each rule (lowering and output stage)
lives in :mod:`qnnforge.hw.compiler.outputs`.

============================  ===========  ===========================================
rule                          manifest     output
============================  ===========  ===========================================
:class:`ThresholdActivation`  threshold    bipolar, one threshold per channel
:class:`MultiThresholdActivation` multithreshold unsigned k-bit, ``2**k - 1`` thresholds
:class:`RequantizeOutput`     requantize   fixed point, gemmlowp-style multiply-shift
:class:`ScoreOutput`          scores       integer class scores (the last layer only)
============================  ===========  ===========================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import reference
from .encoding import BIPOLAR, Encoding
from .manifest import check_range, fail, join, read_array, read_encoding, read_field

__all__ = ["OutputRule", "ThresholdActivation", "MultiThresholdActivation", "RequantizeOutput",
           "ScoreOutput", "OUTPUT_RULES", "output_rule_from_manifest",
           "REQUANT_MULTIPLIER_BITS", "REQUANT_MAX_SHIFT"]

REQUANT_MULTIPLIER_BITS = 32
"""Requantization multipliers are signed integers of at most this many bits."""
REQUANT_MAX_SHIFT = 62
_INT64_LIMIT = 1 << 62


class OutputRule(ABC):
    """The protocol every output rule follows.

    Attributes
    ----------
    kind : str
        The manifest's ``output.kind``.
    since_version : int
        The first artifact schema version that has the rule.
    final : bool
        Whether the rule produces class scores (allowed, and required, on the last layer only).
    encoding : Encoding or None
        Encoding of the outputs, or None for class scores.
    """

    kind: ClassVar[str]
    since_version: ClassVar[int] = 1
    final: ClassVar[bool] = False
    _arrays: ClassVar[dict[str, type]] = {}
    """Per-channel array fields and the dtype they are saved as."""

    @abstractmethod
    def validate(self, bound: int, path: str) -> None:
        """Raise :class:`~.manifest.ArtifactError` naming the field if a value is illegal.

        ``bound`` is the layer's worst-case ``|accumulator|``; ``path`` is the rule's manifest
        path, e.g. ``layers[1].output``.
        """

    @abstractmethod
    def apply(self, acc: np.ndarray) -> np.ndarray:
        """Return the outputs (int64) for integer accumulators of shape (n, channels)."""

    def to_manifest(self, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
        """Return the manifest entry and the arrays (keys ``<prefix>.<field>``) of this rule."""
        entry: dict = {"kind": self.kind}
        if self.encoding is not None:
            entry["encoding"] = self.encoding.to_json()
        arrays = {}
        for name, dtype in self._arrays.items():
            entry[name] = f"{prefix}.{name}"
            arrays[f"{prefix}.{name}"] = getattr(self, name).astype(dtype)
        return entry, arrays

    @classmethod
    @abstractmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str, channels: int) -> OutputRule:
        """Return the rule stored at ``entry`` for a layer of ``channels`` outputs."""


def _check_directions(directions: np.ndarray, path: str) -> None:
    if not np.all(np.isin(directions, (-1, 1))):
        raise fail(join(path, "directions"), "values must be -1 or +1")


def _check_thresholds(thresholds: np.ndarray, bound: int, path: str) -> None:
    check_range(thresholds, -bound - 1, bound + 1, join(path, "thresholds"),
                f" (the accumulator bound is {bound})")


@dataclass(frozen=True)
class ThresholdActivation(OutputRule):
    """Bipolar activation by one integer threshold per output channel.

    ``y[c] = +1 if direction[c] * acc[c] >= threshold[c] else -1``. A batch-norm with a positive
    scale gives direction +1, a negative scale gives -1, and a zero scale gives a threshold that
    is always or never met (``threshold = -bound`` or ``bound + 1``).
    """

    kind: ClassVar[str] = "threshold"
    _arrays: ClassVar[dict[str, type]] = {"thresholds": np.int64, "directions": np.int8}

    thresholds: np.ndarray
    directions: np.ndarray
    encoding: Encoding = BIPOLAR

    def validate(self, bound: int, path: str) -> None:
        if self.encoding != BIPOLAR:
            raise fail(join(path, "encoding"), "must be bipolar")
        _check_directions(self.directions, path)
        _check_thresholds(self.thresholds, bound, path)

    def apply(self, acc: np.ndarray) -> np.ndarray:
        return reference.threshold(acc, self.thresholds, self.directions)

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str,
                      channels: int) -> ThresholdActivation:
        return cls(thresholds=read_array(arrays, entry, "thresholds", path, (channels,)),
                   directions=read_array(arrays, entry, "directions", path, (channels,)),
                   encoding=read_encoding(entry, "encoding", path))


@dataclass(frozen=True)
class MultiThresholdActivation(OutputRule):
    """Unsigned k-bit activation by ``2**k - 1`` integer thresholds per channel (FINN style).

    ``y[c] = #{l : direction[c] * acc[c] >= thresholds[c, l]}``, a value in ``0 .. 2**k - 1``.
    Each row of ``thresholds`` is non-decreasing, so ``y >= l`` exactly when threshold ``l`` is
    passed.
    """

    kind: ClassVar[str] = "multithreshold"
    since_version: ClassVar[int] = 2
    _arrays: ClassVar[dict[str, type]] = {"thresholds": np.int64, "directions": np.int8}
    MAX_BITS: ClassVar[int] = 8

    thresholds: np.ndarray
    directions: np.ndarray
    encoding: Encoding

    @property
    def levels(self) -> int:
        """Number of thresholds per channel, ``2**k - 1``."""
        return (1 << self.encoding.bits) - 1

    @classmethod
    def _check_encoding(cls, encoding: Encoding, path: str) -> None:
        if encoding.kind != "uint" or encoding.bits > cls.MAX_BITS:
            raise fail(join(path, "encoding"),
                       f"must be an unsigned encoding of 1..{cls.MAX_BITS} bits, not {encoding}")

    def validate(self, bound: int, path: str) -> None:
        self._check_encoding(self.encoding, path)
        _check_directions(self.directions, path)
        _check_thresholds(self.thresholds, bound, path)
        if np.any(np.diff(self.thresholds, axis=1) < 0):
            raise fail(join(path, "thresholds"),
                       "each channel's thresholds must be non-decreasing")

    def apply(self, acc: np.ndarray) -> np.ndarray:
        return reference.multithreshold(acc, self.thresholds, self.directions)

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str,
                      channels: int) -> MultiThresholdActivation:
        encoding = read_encoding(entry, "encoding", path)
        cls._check_encoding(encoding, path)
        levels = (1 << encoding.bits) - 1
        return cls(thresholds=read_array(arrays, entry, "thresholds", path, (channels, levels)),
                   directions=read_array(arrays, entry, "directions", path, (channels,)),
                   encoding=encoding)


@dataclass(frozen=True)
class RequantizeOutput(OutputRule):
    """Fixed-point requantization of the accumulator (gemmlowp/TFLite style), per channel.

    ``y[c] = clamp(((acc[c] * multiplier[c] + offset[c]) >> shift[c]) + zero_point[c],
    encoding.min, encoding.max)`` with an arithmetic (flooring) shift. The exporter folds the
    float scale ratio into ``multiplier / 2**shift``, the batch-norm bias into ``offset`` and
    adds ``2**(shift - 1)`` to ``offset`` so that the shift rounds half up.
    """

    kind: ClassVar[str] = "requantize"
    since_version: ClassVar[int] = 2
    _arrays: ClassVar[dict[str, type]] = {"multiplier": np.int64, "shift": np.int64,
                                          "offset": np.int64, "zero_point": np.int64}

    multiplier: np.ndarray
    shift: np.ndarray
    offset: np.ndarray
    zero_point: np.ndarray
    encoding: Encoding

    def validate(self, bound: int, path: str) -> None:
        encoding = self.encoding
        if encoding.kind not in ("uint", "int") or encoding.bits > 16:
            raise fail(join(path, "encoding"), f"must be an integer encoding of at most 16 bits, "
                                               f"not {encoding}")
        limit = 1 << (REQUANT_MULTIPLIER_BITS - 1)
        check_range(self.multiplier, -limit + 1, limit - 1, join(path, "multiplier"))
        check_range(self.shift, 0, REQUANT_MAX_SHIFT, join(path, "shift"))
        # acc * multiplier + offset must stay inside int64 (the reference's and the bound's type)
        worst = bound * (limit - 1)
        check_range(self.offset, worst - _INT64_LIMIT, _INT64_LIMIT - worst,
                    join(path, "offset"))
        if not encoding.contains(self.zero_point):
            raise fail(join(path, "zero_point"), f"values must be legal {encoding} values")

    def apply(self, acc: np.ndarray) -> np.ndarray:
        return reference.requantize(acc, self)

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str,
                      channels: int) -> RequantizeOutput:
        return cls(**{key: read_array(arrays, entry, key, path, (channels,))
                      for key in cls._arrays},
                   encoding=read_encoding(entry, "encoding", path))


@dataclass(frozen=True)
class ScoreOutput(OutputRule):
    """Integer class scores: ``score[c] = acc[c] + bias[c]``."""

    kind: ClassVar[str] = "scores"
    final: ClassVar[bool] = True
    _arrays: ClassVar[dict[str, type]] = {"bias": np.int64}

    bias: np.ndarray

    @property
    def encoding(self) -> None:
        return None

    def value_range(self, bound: int) -> tuple[int, int]:
        """Return the smallest and largest score of a layer whose ``|acc| <= bound``."""
        high = bound + int(np.abs(self.bias).max()) if self.bias.size else bound
        return -high, high

    def validate(self, bound: int, path: str) -> None:
        check_range(self.bias, -bound, bound, join(path, "bias"))

    def apply(self, acc: np.ndarray) -> np.ndarray:
        return reference.scores(acc, self.bias)

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str, channels: int) -> ScoreOutput:
        return cls(bias=read_array(arrays, entry, "bias", path, (channels,)))


OUTPUT_RULES: dict[str, type[OutputRule]] = {
    rule.kind: rule
    for rule in (ThresholdActivation, MultiThresholdActivation, RequantizeOutput, ScoreOutput)}
"""Every output rule, by its manifest ``kind``."""


def _quoted(names: list[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def output_rule_from_manifest(entry: dict, arrays: dict, path: str, channels: int,
                              version: int) -> OutputRule:
    """Return the output rule stored at ``entry`` (``path``) in a schema-``version`` manifest.

    Raises
    ------
    ArtifactError
        If the kind is unknown or newer than ``version``, or a field is malformed.
    """
    kind = read_field(entry, "kind", path, str)
    known = [name for name, rule in OUTPUT_RULES.items() if rule.since_version <= version]
    if kind not in known:
        raise fail(join(path, "kind"), f"must be {_quoted(known)}, not {kind!r}")
    return OUTPUT_RULES[kind].from_manifest(entry, arrays, path, channels)
