"""The dense (fully connected) layer kind: dataclass, manifest codec, validation, reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import reference
from ..encoding import TABLE_KINDS, Encoding
from ..manifest import fail, read_array, read_encoding, read_field
from ..outputs import OutputRule, output_rule_from_manifest

__all__ = ["DenseLayer", "accumulator_bound", "check_weights", "check_weight_version",
           "weight_and_output_arrays",
           "MAX_WEIGHT_BITS"]

MAX_WEIGHT_BITS = {"bipolar": 1, "ternary": 2, "int": 16, "uint": 16, "ttq": 2, "codebook": 8}
"""Widest weight code of each encoding kind that the hardware builds."""


def accumulator_bound(fan_in: int, input_encoding: Encoding, weight_encoding: Encoding) -> int:
    """Return the worst-case ``|acc|`` of a dot product: ``fan_in * max|w| * max|x|``.

    Every product satisfies ``|w * x| <= max|w| * max|x|`` (for two's complement operands the
    extreme is most negative times most negative), so no sum of ``fan_in`` products exceeds the
    bound; hardware accumulators are sized from it and cannot overflow.
    """
    return fan_in * weight_encoding.max_abs * input_encoding.max_abs


TABLE_VERSION = 4
"""First schema version with ``ttq`` and ``codebook`` weights."""


def check_weight_version(encoding: Encoding, version: int, path: str) -> None:
    """Raise :class:`~qnnforge.sw.manifest.ArtifactError` if schema ``version`` predates the
    weight ``encoding``'s kind (``ttq`` and ``codebook`` arrived in :data:`TABLE_VERSION`)."""
    if version < TABLE_VERSION and encoding.kind in TABLE_KINDS:
        raise fail(f"{path}.weight_encoding", f"schema version {version} has no "
                                              f"{encoding.kind!r} weights")


def check_weights(weights: np.ndarray, encoding: Encoding, path: str) -> None:
    """Raise :class:`~qnnforge.sw.manifest.ArtifactError` unless ``weights`` are legal values of
    ``encoding`` and the hardware builds that width (:data:`MAX_WEIGHT_BITS`)."""
    if encoding.bits > MAX_WEIGHT_BITS[encoding.kind]:
        raise fail(f"{path}.weight_encoding", f"weights must have at most 16 bits, not "
                                              f"{encoding}")
    if not encoding.contains(weights):
        raise fail(f"{path}.weights", f"values must be legal {encoding} values")


def weight_and_output_arrays(name: str, weights: np.ndarray, encoding: Encoding,
                             output: OutputRule) -> tuple[dict, dict[str, np.ndarray]]:
    """Return a weighted layer's output entry and its arrays: the weights (int8 where they fit,
    else int32) and the output rule's constants."""
    wide = encoding.bits > 8 or encoding.max > 127 or encoding.min < -128
    arrays = {f"{name}.weights": weights.astype(np.int32 if wide else np.int8)}
    entry, output_arrays = output.to_manifest(name)
    arrays.update(output_arrays)
    return entry, arrays


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer: integer dot products followed by an integer output rule.

    Parameters
    ----------
    name : str
        Unique layer name, used for the array keys and in every error message.
    input_encoding, weight_encoding : Encoding
        Encodings of the layer input and of its weights.
    weights : numpy.ndarray
        Integer weights of shape ``(out_features, in_features)``.
    output : OutputRule
        What the layer does with its accumulators.
    """

    op: ClassVar[str] = "dense"

    name: str
    input_encoding: Encoding
    weight_encoding: Encoding
    weights: np.ndarray
    output: OutputRule

    @property
    def in_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weights.shape[0])

    @property
    def in_shape(self) -> tuple[int]:
        """``(in_features,)``: a dense layer reads any shape of that size, flattened."""
        return (self.in_features,)

    @property
    def out_shape(self) -> tuple[int]:
        return (self.out_features,)

    @property
    def output_encoding(self) -> Encoding | None:
        """Encoding of the activations, or None for a score layer."""
        return self.output.encoding

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference: one per weight."""
        return self.in_features * self.out_features

    @property
    def accumulator_bound(self) -> int:
        """Worst-case ``|acc|`` over all legal inputs and weights (:func:`accumulator_bound`)."""
        return accumulator_bound(self.in_features, self.input_encoding, self.weight_encoding)

    def validate(self, path: str) -> None:
        """Raise :class:`~qnnforge.sw.manifest.ArtifactError` if a weight or constant is illegal."""
        check_weights(self.weights, self.weight_encoding, path)
        self.output.validate(self.accumulator_bound, f"{path}.output")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the outputs (activations or scores) for a batch ``x`` of shape (n, fan_in)."""
        return self.output.apply(reference.dense(x, self.weights))

    def to_manifest(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Return the manifest entry and the arrays (weights and output constants)."""
        output, arrays = weight_and_output_arrays(self.name, self.weights, self.weight_encoding,
                                                  self.output)
        entry = {
            "name": self.name, "op": self.op,
            "in_features": self.in_features, "out_features": self.out_features,
            "input_encoding": self.input_encoding.to_json(),
            "weight_encoding": self.weight_encoding.to_json(),
            "weights": f"{self.name}.weights",
            "accumulator_bound": self.accumulator_bound,
            "output": output,
        }
        return entry, arrays

    @classmethod
    def from_manifest(cls, entry: dict, arrays: dict, path: str, version: int) -> DenseLayer:
        """Return the layer stored at ``entry`` (manifest path ``path``).

        Raises
        ------
        ArtifactError
            If a field is missing or malformed.
        """
        name = read_field(entry, "name", path, str)
        fan_in = read_field(entry, "in_features", path, int)
        fan_out = read_field(entry, "out_features", path, int)
        for key, value in (("in_features", fan_in), ("out_features", fan_out)):
            if value < 1:
                raise fail(f"{path}.{key}", f"must be a positive integer, not {value}")
        weights = read_array(arrays, entry, "weights", path, (fan_out, fan_in))
        output = output_rule_from_manifest(read_field(entry, "output", path, dict), arrays,
                                           f"{path}.output", fan_out, version)
        weight_encoding = read_encoding(entry, "weight_encoding", path)
        if version < 2 and weight_encoding.kind != "bipolar":
            raise fail(f"{path}.weight_encoding", f"schema version 1 supports bipolar weights, "
                                                  f"not {weight_encoding}")
        check_weight_version(weight_encoding, version, path)
        return cls(name=name, input_encoding=read_encoding(entry, "input_encoding", path),
                   weight_encoding=weight_encoding, weights=weights, output=output)
