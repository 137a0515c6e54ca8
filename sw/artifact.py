"""The qnnforge model artifact: integers and exact rules, nothing else.

An artifact is a directory holding ``manifest.json`` (schema version, input rule, layer list,
encodings, output rule) and ``arrays.npz`` (the integer tensors the manifest names). It is the
only thing the hardware generator and the reference model read; see ``docs/artifact.md``.

Loading validates everything and raises :class:`ArtifactError` naming the offending field.
Saving writes a complete new directory next to the target and renames it into place, so a crash
or a bad model never leaves a half-written artifact behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encoding import BIPOLAR, Encoding, signed_bits
from .errors import QnnforgeError

__all__ = [
    "SCHEMA_VERSION", "SUPPORTED_VERSIONS", "FORMAT", "ArtifactError", "InputQuantizer",
    "ThresholdActivation", "MultiThresholdActivation", "RequantizeOutput", "ScoreOutput",
    "DenseLayer", "Artifact", "load_artifact",
]

FORMAT = "qnnforge.artifact"
SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
"""Version 1 (bipolar weights, threshold and score outputs) still loads; saving writes 2."""
REQUANT_MULTIPLIER_BITS = 32
"""Requantization multipliers are signed integers of at most this many bits."""
REQUANT_MAX_SHIFT = 62
_INT64_LIMIT = 1 << 62
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


class ArtifactError(QnnforgeError, ValueError):
    """An artifact is malformed; the message names the field at fault."""


def _fail(path: str, message: str) -> ArtifactError:
    return ArtifactError(f"{path}: {message}")


@dataclass(frozen=True)
class InputQuantizer:
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

    encoding: Encoding
    raw_min: int
    raw_max: int
    multiplier: int
    shift: int

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

    def to_json(self) -> dict:
        return {"encoding": self.encoding.to_json(), "raw_min": self.raw_min,
                "raw_max": self.raw_max, "multiplier": self.multiplier, "shift": self.shift}


@dataclass(frozen=True)
class ThresholdActivation:
    """Bipolar activation by one integer threshold per output channel.

    ``y[c] = +1 if direction[c] * acc[c] >= threshold[c] else -1``. A batch-norm with a positive
    scale gives direction +1, a negative scale gives -1, and a zero scale gives a threshold that
    is always or never met (``threshold = -bound`` or ``bound + 1``).
    """

    thresholds: np.ndarray
    directions: np.ndarray
    encoding: Encoding = BIPOLAR


@dataclass(frozen=True)
class MultiThresholdActivation:
    """Unsigned k-bit activation by ``2**k - 1`` integer thresholds per channel (FINN style).

    ``y[c] = #{l : direction[c] * acc[c] >= thresholds[c, l]}``, a value in ``0 .. 2**k - 1``.
    Each row of ``thresholds`` is non-decreasing, so ``y >= l`` exactly when threshold ``l`` is
    passed.
    """

    thresholds: np.ndarray
    directions: np.ndarray
    encoding: Encoding

    @property
    def levels(self) -> int:
        """Number of thresholds per channel, ``2**k - 1``."""
        return (1 << self.encoding.bits) - 1


@dataclass(frozen=True)
class RequantizeOutput:
    """Fixed-point requantization of the accumulator (gemmlowp/TFLite style), per channel.

    ``y[c] = clamp(((acc[c] * multiplier[c] + offset[c]) >> shift[c]) + zero_point[c],
    encoding.min, encoding.max)`` with an arithmetic (flooring) shift. The exporter folds the
    float scale ratio into ``multiplier / 2**shift``, the batch-norm bias into ``offset`` and
    adds ``2**(shift - 1)`` to ``offset`` so that the shift rounds half up.
    """

    multiplier: np.ndarray
    shift: np.ndarray
    offset: np.ndarray
    zero_point: np.ndarray
    encoding: Encoding


@dataclass(frozen=True)
class ScoreOutput:
    """Integer class scores: ``score[c] = acc[c] + bias[c]``."""

    bias: np.ndarray


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
    output : ThresholdActivation, MultiThresholdActivation, RequantizeOutput or ScoreOutput
        What the layer does with its accumulators.
    """

    name: str
    input_encoding: Encoding
    weight_encoding: Encoding
    weights: np.ndarray
    output: ThresholdActivation | MultiThresholdActivation | RequantizeOutput | ScoreOutput

    @property
    def in_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weights.shape[0])

    @property
    def output_encoding(self) -> Encoding | None:
        """Encoding of the activations, or None for a score layer."""
        if isinstance(self.output, ScoreOutput):
            return None
        return self.output.encoding

    @property
    def accumulator_bound(self) -> int:
        """Worst-case ``|acc|`` over all legal inputs and weights: ``fan_in * max|w| * max|x|``.

        Every product satisfies ``|w * x| <= max|w| * max|x|`` (for two's complement operands the
        extreme is most negative times most negative), so no sum of ``fan_in`` products exceeds
        the bound; hardware accumulators are sized from it and cannot overflow.
        """
        return (self.in_features * self.weight_encoding.max_abs
                * self.input_encoding.max_abs)


@dataclass(frozen=True)
class Artifact:
    """A validated integer-only network: input rule, layers and output rule.

    Construct through :func:`load_artifact` or from an exporter; ``__post_init__`` validates
    the whole network so an invalid artifact cannot exist in memory either.
    """

    name: str
    input: InputQuantizer
    layers: tuple[DenseLayer, ...]
    tie_break: str = "lowest_index"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def num_classes(self) -> int:
        return self.layers[-1].out_features

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def score_range(self) -> tuple[int, int]:
        """Smallest and largest class score any legal input can produce."""
        last = self.layers[-1]
        high = last.accumulator_bound + int(np.abs(last.output.bias).max())
        return -high, high

    @property
    def score_bits(self) -> int:
        """Width of one class score in hardware (two's complement)."""
        return signed_bits(*self.score_range)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the artifact directory ``path`` atomically and return it.

        The manifest and arrays are written into a fresh sibling directory, which then replaces
        ``path`` in one rename; an existing artifact at ``path`` survives any failure.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            arrays = _arrays(self)
            with open(staging / ARRAYS, "wb") as f:
                np.savez(f, **arrays)
            (staging / MANIFEST).write_text(json.dumps(_manifest(self), indent=2) + "\n")
            os.chmod(staging, 0o755)
            for member in (ARRAYS, MANIFEST):
                os.chmod(staging / member, 0o644)
            if path.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
                os.rename(path, retired / "artifact")
                try:
                    os.rename(staging, path)
                except BaseException:
                    os.rename(retired / "artifact", path)
                    shutil.rmtree(retired, ignore_errors=True)
                    raise
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.rename(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return path


# --- serialization ------------------------------------------------------------------------------

_REQUANT_ARRAYS = ("multiplier", "shift", "offset", "zero_point")


def _manifest(artifact: Artifact) -> dict:
    layers = []
    for layer in artifact.layers:
        entry: dict[str, Any] = {
            "name": layer.name, "op": "dense",
            "in_features": layer.in_features, "out_features": layer.out_features,
            "input_encoding": layer.input_encoding.to_json(),
            "weight_encoding": layer.weight_encoding.to_json(),
            "weights": f"{layer.name}.weights",
            "accumulator_bound": layer.accumulator_bound,
        }
        if isinstance(layer.output, ThresholdActivation):
            entry["output"] = {"kind": "threshold", "encoding": layer.output.encoding.to_json(),
                               "thresholds": f"{layer.name}.thresholds",
                               "directions": f"{layer.name}.directions"}
        elif isinstance(layer.output, MultiThresholdActivation):
            entry["output"] = {"kind": "multithreshold",
                               "encoding": layer.output.encoding.to_json(),
                               "thresholds": f"{layer.name}.thresholds",
                               "directions": f"{layer.name}.directions"}
        elif isinstance(layer.output, RequantizeOutput):
            entry["output"] = {"kind": "requantize", "encoding": layer.output.encoding.to_json(),
                               **{key: f"{layer.name}.{key}" for key in _REQUANT_ARRAYS}}
        else:
            entry["output"] = {"kind": "scores", "bias": f"{layer.name}.bias"}
        layers.append(entry)
    return {
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "name": artifact.name,
        "input": {"shape": [artifact.in_features], **artifact.input.to_json()},
        "layers": layers,
        "output": {"kind": "argmax", "classes": artifact.num_classes,
                   "tie_break": artifact.tie_break},
        "metadata": artifact.metadata,
    }


def _arrays(artifact: Artifact) -> dict[str, np.ndarray]:
    arrays = {}
    for layer in artifact.layers:
        wide = layer.weight_encoding.bits > 8 or layer.weight_encoding.max > 127
        arrays[f"{layer.name}.weights"] = layer.weights.astype(np.int32 if wide else np.int8)
        if isinstance(layer.output, (ThresholdActivation, MultiThresholdActivation)):
            arrays[f"{layer.name}.thresholds"] = layer.output.thresholds.astype(np.int64)
            arrays[f"{layer.name}.directions"] = layer.output.directions.astype(np.int8)
        elif isinstance(layer.output, RequantizeOutput):
            for key in _REQUANT_ARRAYS:
                arrays[f"{layer.name}.{key}"] = getattr(layer.output, key).astype(np.int64)
        else:
            arrays[f"{layer.name}.bias"] = layer.output.bias.astype(np.int64)
    return arrays


# --- loading -----------------------------------------------------------------------------------

def _get(mapping: Any, key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict):
        raise _fail(path or MANIFEST, f"must be an object, not {type(mapping).__name__}")
    if key not in mapping:
        raise _fail(f"{path}.{key}" if path else key, "missing field")
    value = mapping[key]
    name = f"{path}.{key}" if path else key
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise _fail(name, f"must be an integer, not {value!r}")
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise _fail(name, f"must be of type {'/'.join(k.__name__ for k in kinds)}, "
                          f"not {type(value).__name__}")
    return value


def _encoding(mapping: dict, key: str, path: str) -> Encoding:
    entry = _get(mapping, key, path, dict)
    try:
        return Encoding(_get(entry, "kind", f"{path}.{key}", str),
                        _get(entry, "bits", f"{path}.{key}", int))
    except (TypeError, ValueError) as error:
        if isinstance(error, ArtifactError):
            raise
        raise _fail(f"{path}.{key}", str(error)) from None


def _array(arrays: dict, manifest: dict, key: str, path: str, shape: tuple[int, ...]) -> np.ndarray:
    name = _get(manifest, key, path, str)
    if name not in arrays:
        raise _fail(f"{path}.{key}", f"array {name!r} is missing from {ARRAYS}")
    array = arrays[name]
    if array.dtype.kind not in "iu":
        raise _fail(f"{path}.{key}", f"array {name!r} must hold integers, not {array.dtype}")
    if array.shape != shape:
        raise _fail(f"{path}.{key}", f"array {name!r} must have shape {shape}, not {array.shape}")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise _fail(f"{path}.{key}", f"array {name!r} holds values beyond the int64 range")
    return array.astype(np.int64)


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Load and validate the artifact directory ``path``.

    Raises
    ------
    ArtifactError
        If a file is missing or unreadable, the schema version is unknown, or any field is
        missing, of the wrong type or shape, or out of range. The message names the field.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an artifact directory")
    try:
        manifest = json.loads((path / MANIFEST).read_text(), parse_constant=_NonFinite)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: {MANIFEST} is missing") from None
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{MANIFEST}: not valid JSON ({error})") from None
    _reject_non_finite(manifest, "")
    try:
        with np.load(path / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path}: {ARRAYS} is missing") from None
    except (ValueError, OSError) as error:
        raise ArtifactError(f"{ARRAYS}: unreadable ({error})") from None
    return artifact_from_manifest(manifest, arrays)


class _NonFinite(str):
    """A ``NaN``/``Infinity``/``-Infinity`` constant read from the manifest, kept to be reported."""


def _reject_non_finite(value: Any, path: str) -> None:
    # json.loads accepts these constants; find the field that holds one so the message names it.
    if isinstance(value, _NonFinite):
        raise _fail(path or MANIFEST, f"{value} is not allowed (values must be integers)")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{index}]")


def artifact_from_manifest(manifest: Any, arrays: dict[str, np.ndarray]) -> Artifact:
    """Build and validate an :class:`Artifact` from a parsed manifest and its arrays."""
    if _get(manifest, "format", "", str) != FORMAT:
        raise _fail("format", f"must be {FORMAT!r}, not {manifest['format']!r}")
    version = _get(manifest, "schema_version", "", int)
    if version not in SUPPORTED_VERSIONS:
        raise _fail("schema_version", f"version {version} is not supported "
                                      f"(this qnnforge reads versions 1 and {SCHEMA_VERSION})")
    name = _get(manifest, "name", "", str)
    entry = _get(manifest, "input", "", dict)
    quantizer = InputQuantizer(
        encoding=_encoding(entry, "encoding", "input"),
        raw_min=_get(entry, "raw_min", "input", int), raw_max=_get(entry, "raw_max", "input", int),
        multiplier=_get(entry, "multiplier", "input", int),
        shift=_get(entry, "shift", "input", int))
    shape = _get(entry, "shape", "input", list)
    layer_entries = _get(manifest, "layers", "", list)
    layers = []
    for index, entry in enumerate(layer_entries):
        layers.append(_layer(entry, arrays, f"layers[{index}]", version))
    output = _get(manifest, "output", "", dict)
    if _get(output, "kind", "output", str) != "argmax":
        raise _fail("output.kind", f"must be 'argmax', not {output['kind']!r}")
    tie_break = _get(output, "tie_break", "output", str)
    classes = _get(output, "classes", "output", int)
    artifact = Artifact(name=name, input=quantizer, layers=tuple(layers), tie_break=tie_break,
                        metadata=manifest.get("metadata", {}))
    if shape != [artifact.in_features]:
        raise _fail("input.shape", f"must be [{artifact.in_features}], not {shape!r}")
    if classes != artifact.num_classes:
        raise _fail("output.classes", f"must be {artifact.num_classes}, not {classes}")
    return artifact


def _layer(entry: Any, arrays: dict, path: str, version: int) -> DenseLayer:
    name = _get(entry, "name", path, str)
    op = _get(entry, "op", path, str)
    if op != "dense":
        raise _fail(f"{path}.op", f"must be 'dense', not {op!r}")
    fan_in = _get(entry, "in_features", path, int)
    fan_out = _get(entry, "out_features", path, int)
    for key, value in (("in_features", fan_in), ("out_features", fan_out)):
        if value < 1:
            raise _fail(f"{path}.{key}", f"must be a positive integer, not {value}")
    weights = _array(arrays, entry, "weights", path, (fan_out, fan_in))
    output_entry = _get(entry, "output", path, dict)
    kind = _get(output_entry, "kind", f"{path}.output", str)
    if kind == "threshold":
        output = ThresholdActivation(
            thresholds=_array(arrays, output_entry, "thresholds", f"{path}.output", (fan_out,)),
            directions=_array(arrays, output_entry, "directions", f"{path}.output", (fan_out,)),
            encoding=_encoding(output_entry, "encoding", f"{path}.output"))
    elif kind == "scores":
        output = ScoreOutput(bias=_array(arrays, output_entry, "bias", f"{path}.output",
                                         (fan_out,)))
    elif kind == "multithreshold" and version >= 2:
        encoding = _encoding(output_entry, "encoding", f"{path}.output")
        if encoding.kind != "uint" or encoding.bits > 8:
            raise _fail(f"{path}.output.encoding",
                        f"must be an unsigned encoding of 1..8 bits, not {encoding}")
        output = MultiThresholdActivation(
            thresholds=_array(arrays, output_entry, "thresholds", f"{path}.output",
                              (fan_out, (1 << encoding.bits) - 1)),
            directions=_array(arrays, output_entry, "directions", f"{path}.output", (fan_out,)),
            encoding=encoding)
    elif kind == "requantize" and version >= 2:
        output = RequantizeOutput(
            **{key: _array(arrays, output_entry, key, f"{path}.output", (fan_out,))
               for key in _REQUANT_ARRAYS},
            encoding=_encoding(output_entry, "encoding", f"{path}.output"))
    else:
        kinds = ("'threshold' or 'scores'" if version < 2 else
                 "'threshold', 'multithreshold', 'requantize' or 'scores'")
        raise _fail(f"{path}.output.kind", f"must be {kinds}, not {kind!r}")
    weight_encoding = _encoding(entry, "weight_encoding", path)
    if version < 2 and weight_encoding.kind != "bipolar":
        raise _fail(f"{path}.weight_encoding", f"schema version 1 supports bipolar weights, "
                                               f"not {weight_encoding}")
    return DenseLayer(name=name, input_encoding=_encoding(entry, "input_encoding", path),
                      weight_encoding=weight_encoding, weights=weights, output=output)


# --- validation ----------------------------------------------------------------------------------

def _validate(artifact: Artifact) -> None:
    if not isinstance(artifact.name, str) or not artifact.name:
        raise _fail("name", "must be a non-empty string")
    quantizer = artifact.input
    if quantizer.encoding.kind != "uint":
        raise _fail("input.encoding", f"must be an unsigned encoding, not {quantizer.encoding}")
    if quantizer.raw_min > quantizer.raw_max:
        raise _fail("input.raw_min", f"must not exceed raw_max ({quantizer.raw_max}), "
                                     f"not {quantizer.raw_min}")
    if quantizer.multiplier < 1:
        raise _fail("input.multiplier", f"must be a positive integer, not {quantizer.multiplier}")
    if not 0 <= quantizer.shift <= 31:
        raise _fail("input.shift", f"must lie in 0..31, not {quantizer.shift}")
    if artifact.tie_break != "lowest_index":
        raise _fail("output.tie_break", f"must be 'lowest_index', not {artifact.tie_break!r}")
    if not artifact.layers:
        raise _fail("layers", "must hold at least one layer")
    names = set()
    previous = quantizer.encoding
    previous_width = None
    for index, layer in enumerate(artifact.layers):
        path = f"layers[{index}]"
        if not layer.name.isidentifier():
            raise _fail(f"{path}.name", f"must be an identifier, not {layer.name!r}")
        if layer.name in names:
            raise _fail(f"{path}.name", f"duplicate layer name {layer.name!r}")
        names.add(layer.name)
        if layer.input_encoding != previous:
            raise _fail(f"{path}.input_encoding", f"must match the previous output ({previous}), "
                                                  f"not {layer.input_encoding}")
        if previous_width is not None and layer.in_features != previous_width:
            raise _fail(f"{path}.in_features", f"must equal the previous layer's out_features "
                                               f"({previous_width}), not {layer.in_features}")
        _validate_values(layer, path)
        last = index == len(artifact.layers) - 1
        if last != isinstance(layer.output, ScoreOutput):
            raise _fail(f"{path}.output.kind", "must be 'scores' for the last layer and "
                                               "an activation for every other layer")
        previous = layer.output_encoding
        previous_width = layer.out_features


_WEIGHT_KINDS = {"bipolar": 1, "ternary": 2, "int": 16, "uint": 16}


def _validate_values(layer: DenseLayer, path: str) -> None:
    encoding = layer.weight_encoding
    if encoding.bits > _WEIGHT_KINDS[encoding.kind]:
        raise _fail(f"{path}.weight_encoding", f"weights must have at most 16 bits, not "
                                               f"{encoding}")
    if not encoding.contains(layer.weights):
        raise _fail(f"{path}.weights", f"values must be legal {encoding} values")
    bound = layer.accumulator_bound
    output = layer.output
    if isinstance(output, (ThresholdActivation, MultiThresholdActivation)):
        if isinstance(output, ThresholdActivation) and output.encoding != BIPOLAR:
            raise _fail(f"{path}.output.encoding", "must be bipolar")
        if not np.all(np.isin(output.directions, (-1, 1))):
            raise _fail(f"{path}.output.directions", "values must be -1 or +1")
        if np.any(np.abs(output.thresholds) > bound + 1):
            raise _fail(f"{path}.output.thresholds",
                        f"values must lie in {-bound - 1}..{bound + 1} (the accumulator bound "
                        f"is {bound})")
        if output.thresholds.ndim == 2 and np.any(np.diff(output.thresholds, axis=1) < 0):
            raise _fail(f"{path}.output.thresholds", "each channel's thresholds must be "
                                                     "non-decreasing")
    elif isinstance(output, RequantizeOutput):
        _validate_requantize(output, bound, f"{path}.output")
    else:
        if np.any(np.abs(output.bias) > bound):
            raise _fail(f"{path}.output.bias", f"values must lie in {-bound}..{bound}")


def _validate_requantize(output: RequantizeOutput, bound: int, path: str) -> None:
    encoding = output.encoding
    if encoding.kind not in ("uint", "int") or encoding.bits > 16:
        raise _fail(f"{path}.encoding", f"must be an integer encoding of at most 16 bits, "
                                        f"not {encoding}")
    limit = 1 << (REQUANT_MULTIPLIER_BITS - 1)
    if np.any(np.abs(output.multiplier) >= limit):
        raise _fail(f"{path}.multiplier", f"values must lie in {-limit + 1}..{limit - 1}")
    if np.any((output.shift < 0) | (output.shift > REQUANT_MAX_SHIFT)):
        raise _fail(f"{path}.shift", f"values must lie in 0..{REQUANT_MAX_SHIFT}")
    # acc * multiplier + offset must stay inside int64 (the reference's and the bound's type)
    worst = bound * (limit - 1)
    if np.any(np.abs(output.offset) > _INT64_LIMIT - worst):
        raise _fail(f"{path}.offset", f"values must lie in {worst - _INT64_LIMIT}.."
                                      f"{_INT64_LIMIT - worst}")
    if not encoding.contains(output.zero_point):
        raise _fail(f"{path}.zero_point", f"values must be legal {encoding} values")
