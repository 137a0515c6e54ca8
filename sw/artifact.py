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
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encoding import signed_bits
from .inputs import FloatInputQuantizer, InputQuantizer, InputRule, input_rule_from_manifest
from .layers import Conv2dLayer, DenseLayer, Layer, MaxPool2dLayer, layer_from_manifest
from .manifest import ARRAYS, MANIFEST, ArtifactError, fail, read_field
from .outputs import (MultiThresholdActivation, RequantizeOutput, ScoreOutput,
                      ThresholdActivation)

__all__ = [
    "SCHEMA_VERSION", "SUPPORTED_VERSIONS", "FORMAT", "ArtifactError", "InputRule",
    "InputQuantizer", "FloatInputQuantizer",
    "ThresholdActivation", "MultiThresholdActivation", "RequantizeOutput", "ScoreOutput",
    "DenseLayer", "Conv2dLayer", "MaxPool2dLayer", "Artifact", "load_artifact",
]

FORMAT = "qnnforge.artifact"
SCHEMA_VERSION = 4
SUPPORTED_VERSIONS = (1, 2, 3, 4)
"""Versions 1 (bipolar weights, threshold and score outputs), 2 (every precision, dense
layers) and 3 (convolution and max-pool layers, image inputs) still load; saving writes 4
(input rules by kind: the integer rule and the float rule of imported QONNX models; ``ttq``
and ``codebook`` weight encodings, whose tables the encoding carries)."""


@dataclass(frozen=True)
class Artifact:
    """A validated integer-only network: input rule, layers and output rule.

    Construct through :func:`load_artifact` or from an exporter; ``__post_init__`` validates
    the whole network so an invalid artifact cannot exist in memory either.
    """

    name: str
    input: InputRule
    layers: tuple[Layer, ...]
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
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input: ``(features,)`` or a channels-last ``(height, width, channels)``.

        Inputs are always passed flat, ``(n, in_features)``, in channels-last order.
        """
        return tuple(self.layers[0].in_shape)

    @property
    def score_range(self) -> tuple[int, int]:
        """Smallest and largest class score any legal input can produce."""
        last = self.layers[-1]
        return last.output.value_range(last.accumulator_bound)

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
            manifest, arrays = _manifest_and_arrays(self)
            with open(staging / ARRAYS, "wb") as f:
                np.savez(f, **arrays)
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
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

def _manifest_and_arrays(artifact: Artifact) -> tuple[dict, dict[str, np.ndarray]]:
    layers, arrays = [], {}
    for layer in artifact.layers:
        entry, layer_arrays = layer.to_manifest()
        layers.append(entry)
        arrays.update(layer_arrays)
    manifest = {
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "name": artifact.name,
        "input": {"shape": list(artifact.in_shape), **artifact.input.to_json()},
        "layers": layers,
        "output": {"kind": "argmax", "classes": artifact.num_classes,
                   "tie_break": artifact.tie_break},
        "metadata": artifact.metadata,
    }
    return manifest, arrays


# --- loading -----------------------------------------------------------------------------------

MAX_MANIFEST_BYTES = 16 << 20
"""Largest manifest.json read (a real one is a few kilobytes)."""
MAX_ARRAYS_BYTES = 4 << 30
"""Largest arrays.npz read."""
MAX_NESTING = 64
"""Deepest nesting of objects and lists accepted in manifest.json (a real one has 4)."""


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Load and validate the artifact directory ``path``.

    Only regular files are opened (a directory, a named pipe or a symlink loop in their place is
    rejected before any read), within :data:`MAX_MANIFEST_BYTES` and :data:`MAX_ARRAYS_BYTES`;
    the manifest must be UTF-8 JSON nested at most :data:`MAX_NESTING` deep and the arrays an
    ``.npz`` archive of plain (not object) arrays.

    Raises
    ------
    ArtifactError
        If a file is missing or unreadable, the schema version is unknown, or any field is
        missing, of the wrong type or shape, or out of range. The message names the file or
        field.
    """
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an artifact directory")
    _check_regular_file(path, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        text = (path / MANIFEST).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArtifactError(f"{MANIFEST}: not UTF-8 text (byte {error.object[error.start]:#04x} "
                            f"at offset {error.start})") from None
    except OSError as error:
        raise ArtifactError(f"{MANIFEST}: unreadable ({error.strerror or error})") from None
    try:
        manifest = json.loads(text, parse_constant=_NonFinite)
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{MANIFEST}: not valid JSON ({error})") from None
    except RecursionError:
        raise ArtifactError(f"{MANIFEST}: nested deeper than {MAX_NESTING} levels") from None
    _reject_non_finite(manifest, "", 0)
    _check_regular_file(path, ARRAYS, MAX_ARRAYS_BYTES)
    if not zipfile.is_zipfile(path / ARRAYS):
        raise ArtifactError(f"{ARRAYS}: unreadable (not an .npz archive of .npy arrays)")
    try:
        with np.load(path / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ArtifactError(f"{ARRAYS}: unreadable ({error})") from None
    return artifact_from_manifest(manifest, arrays)


def _check_regular_file(directory: Path, name: str, limit: int) -> None:
    """Raise :class:`ArtifactError` unless ``directory/name`` is a regular file within
    ``limit`` bytes; never opens it (a named pipe would block)."""
    try:
        info = (directory / name).stat()
    except FileNotFoundError:
        raise ArtifactError(f"{directory}: {name} is missing") from None
    except OSError as error:  # a symlink loop, a permission error
        raise ArtifactError(f"{name}: unreadable ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError(f"{name}: must be a regular file")
    if info.st_size > limit:
        raise ArtifactError(f"{name}: larger than {limit} bytes ({info.st_size})")


class _NonFinite(str):
    """A ``NaN``/``Infinity``/``-Infinity`` constant read from the manifest, kept to be reported."""


def _reject_non_finite(value: Any, path: str, depth: int) -> None:
    # json.loads accepts these constants; find the field that holds one so the message names it.
    if isinstance(value, _NonFinite):
        raise fail(path or MANIFEST, f"{value} is not allowed (values must be integers)")
    if isinstance(value, (dict, list)) and depth >= MAX_NESTING:
        raise fail(path or MANIFEST, f"nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{index}]", depth + 1)


def artifact_from_manifest(manifest: Any, arrays: dict[str, np.ndarray]) -> Artifact:
    """Build and validate an :class:`Artifact` from a parsed manifest and its arrays."""
    if read_field(manifest, "format", "", str) != FORMAT:
        raise fail("format", f"must be {FORMAT!r}, not {manifest['format']!r}")
    version = read_field(manifest, "schema_version", "", int)
    if version not in SUPPORTED_VERSIONS:
        raise fail("schema_version", f"version {version} is not supported "
                                     f"(this qnnforge reads versions "
                                     f"{', '.join(map(str, SUPPORTED_VERSIONS))})")
    name = read_field(manifest, "name", "", str)
    entry = read_field(manifest, "input", "", dict)
    quantizer = input_rule_from_manifest(entry, "input", version)
    shape = read_field(entry, "shape", "input", list)
    layer_entries = read_field(manifest, "layers", "", list)
    layers = [layer_from_manifest(entry, arrays, f"layers[{index}]", version)
              for index, entry in enumerate(layer_entries)]
    output = read_field(manifest, "output", "", dict)
    if read_field(output, "kind", "output", str) != "argmax":
        raise fail("output.kind", f"must be 'argmax', not {output['kind']!r}")
    tie_break = read_field(output, "tie_break", "output", str)
    classes = read_field(output, "classes", "output", int)
    artifact = Artifact(name=name, input=quantizer, layers=tuple(layers), tie_break=tie_break,
                        metadata=manifest.get("metadata", {}))
    if shape != list(artifact.in_shape):
        raise fail("input.shape", f"must be {list(artifact.in_shape)}, not {shape!r}")
    if classes != artifact.num_classes:
        raise fail("output.classes", f"must be {artifact.num_classes}, not {classes}")
    for index, (entry, layer) in enumerate(zip(layer_entries, artifact.layers)):
        if layer.accumulator_bound is None:
            continue
        # written for readers of the manifest alone; a different value means a corrupt file
        stated = read_field(entry, "accumulator_bound", f"layers[{index}]", int)
        if stated != layer.accumulator_bound:
            raise fail(f"layers[{index}].accumulator_bound",
                       f"must be {layer.accumulator_bound} (the worst-case |accumulator| of the "
                       f"layer's encodings and fan-in), not {stated}")
    return artifact


# --- validation ----------------------------------------------------------------------------------

def _validate(artifact: Artifact) -> None:
    if not isinstance(artifact.name, str) or not artifact.name:
        raise fail("name", "must be a non-empty string")
    quantizer = artifact.input
    if not isinstance(quantizer, InputRule):
        raise fail("input", f"must be an input rule, not {type(quantizer).__name__}")
    if not artifact.layers:
        raise fail("layers", "must hold at least one layer")
    quantizer.validate("input", tuple(artifact.layers[0].in_shape))
    if artifact.tie_break != "lowest_index":
        raise fail("output.tie_break", f"must be 'lowest_index', not {artifact.tie_break!r}")
    names = set()
    previous = quantizer.encoding
    previous_shape = None
    for index, layer in enumerate(artifact.layers):
        path = f"layers[{index}]"
        if not layer.name.isidentifier():
            raise fail(f"{path}.name", f"must be an identifier, not {layer.name!r}")
        if layer.name in names:
            raise fail(f"{path}.name", f"duplicate layer name {layer.name!r}")
        names.add(layer.name)
        if layer.input_encoding != previous:
            raise fail(f"{path}.input_encoding", f"must match the previous output ({previous}), "
                                                 f"not {layer.input_encoding}")
        if previous_shape is not None:
            _check_follows(path, layer, previous_shape)
        layer.validate(path)
        last = index == len(artifact.layers) - 1
        final = layer.output is not None and layer.output.final
        if last != final:
            raise fail(f"{path}.output.kind" if layer.output is not None else f"{path}.op",
                       "must be 'scores' for the last layer and an activation for every other "
                       "layer" if layer.output is not None else
                       f"{layer.op!r} cannot be the last layer (it produces no class scores)")
        previous = layer.output_encoding
        previous_shape = tuple(layer.out_shape)


def _check_follows(path: str, layer: Layer, previous_shape: tuple[int, ...]) -> None:
    """Check that ``layer`` reads the previous layer's output: the same image shape, or (for a
    one-dimensional input) the same number of elements, flattened channels-last."""
    shape = tuple(layer.in_shape)
    if len(shape) == 1:
        size = int(np.prod(previous_shape))
        if shape[0] != size:
            raise fail(f"{path}.in_features", f"must equal the previous layer's output size "
                                              f"({size}), not {shape[0]}")
    elif shape != previous_shape:
        raise fail(f"{path}.in_shape", f"must equal the previous layer's output shape "
                                       f"{list(previous_shape)}, not {list(shape)}")
