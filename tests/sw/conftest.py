"""Shared fixtures and strategies for the software tests: small artifacts, edited copies of them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from qnnforge.sw.artifact import (
    Artifact, DenseLayer, InputQuantizer, ScoreOutput, ThresholdActivation,
)
from qnnforge.sw.data import load_digits_split
from qnnforge.sw.encoding import BIPOLAR, uint

DIGITS_QUANTIZER = InputQuantizer(uint(4), raw_min=0, raw_max=16, multiplier=15, shift=4)


def tiny_artifact(metadata: dict | None = None) -> Artifact:
    """Return a fixed 4 -> 3 -> 2 network: fc0 (threshold, bound 60), fc1 (scores, bound 3)."""
    fc0 = DenseLayer(
        "fc0", uint(4), BIPOLAR,
        np.array([[1, -1, 1, 1], [-1, -1, 1, -1], [1, 1, 1, 1]]),
        ThresholdActivation(thresholds=np.array([7, -60, 61]), directions=np.array([1, -1, 1])))
    fc1 = DenseLayer("fc1", BIPOLAR, BIPOLAR, np.array([[1, -1, 1], [-1, 1, 1]]),
                     ScoreOutput(bias=np.array([2, -3])))
    return Artifact("tiny", DIGITS_QUANTIZER, (fc0, fc1),
                    metadata={"accuracy": 0.5, "seed": 7} if metadata is None else metadata)


def assert_same_artifact(actual: Artifact, expected: Artifact) -> None:
    """Assert two artifacts hold the same fields and the same integer arrays."""
    assert actual.name == expected.name
    assert actual.input == expected.input
    assert actual.tie_break == expected.tie_break
    assert actual.metadata == expected.metadata
    assert len(actual.layers) == len(expected.layers)
    for got, want in zip(actual.layers, expected.layers):
        assert_same_fields(got, want)


def assert_same_fields(got, want) -> None:
    """Assert two layers (or output rules) of one kind hold equal fields, arrays included."""
    assert type(got) is type(want)
    for field in dataclasses.fields(want):
        mine, theirs = getattr(got, field.name), getattr(want, field.name)
        if isinstance(theirs, np.ndarray):
            assert mine.shape == theirs.shape, field.name
            np.testing.assert_array_equal(mine, theirs, strict=False, err_msg=field.name)
        elif dataclasses.is_dataclass(theirs) and not isinstance(theirs, type) and hasattr(
                theirs, "apply"):
            assert_same_fields(mine, theirs)
        else:
            assert mine == theirs, field.name


class SavedArtifact:
    """A saved :func:`tiny_artifact` whose files a test may rewrite."""

    def __init__(self, path: Path):
        self.path = path
        self.artifact = tiny_artifact()
        self.artifact.save(path)

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    def edit_manifest(self, edit: Callable[[dict], None]) -> None:
        manifest = self.manifest()
        edit(manifest)
        (self.path / "manifest.json").write_text(json.dumps(manifest))

    def edit_manifest_text(self, old: str, new: str) -> None:
        text = (self.path / "manifest.json").read_text()
        assert text.count(old) == 1, f"{old!r} is not unique in the manifest"
        (self.path / "manifest.json").write_text(text.replace(old, new))

    def edit_arrays(self, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
        with np.load(self.path / "arrays.npz") as npz:
            arrays = {key: npz[key] for key in npz.files}
        edit(arrays)
        with open(self.path / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path) -> SavedArtifact:
    """A valid artifact saved at ``tmp_path / "model"``, ready to be corrupted."""
    return SavedArtifact(tmp_path / "model")


@pytest.fixture(scope="session")
def digits_split():
    return load_digits_split()


# --- Hypothesis strategies -----------------------------------------------------------------------

def _int_array(draw, shape, low, high) -> np.ndarray:
    size = int(np.prod(shape))
    values = draw(st.lists(st.integers(low, high), min_size=size, max_size=size))
    return np.array(values, dtype=np.int64).reshape(shape)


@st.composite
def artifacts(draw, max_width: int = 6, max_layers: int = 3) -> Artifact:
    """Draw a valid artifact: random widths, input bits, weights, thresholds and biases.

    Thresholds and biases cover their whole legal range, so activations are sometimes constant.
    """
    bits = draw(st.integers(1, 6))
    quantizer = InputQuantizer(uint(bits), raw_min=0, raw_max=draw(st.integers(1, 300)),
                               multiplier=draw(st.integers(1, 64)), shift=draw(st.integers(0, 8)))
    widths = draw(st.lists(st.integers(1, max_width), min_size=2, max_size=max_layers + 1))
    layers = []
    encoding = quantizer.encoding
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        weights = _int_array(draw, (fan_out, fan_in), 0, 1) * 2 - 1
        bound = fan_in * encoding.max_abs
        if index < len(widths) - 2:
            thresholds = _int_array(draw, (fan_out,), -bound - 1, bound + 1)
            output = ThresholdActivation(thresholds, _int_array(draw, (fan_out,), 0, 1) * 2 - 1)
        else:
            output = ScoreOutput(_int_array(draw, (fan_out,), -bound, bound))
        layers.append(DenseLayer(f"fc{index}", encoding, BIPOLAR, weights, output))
        encoding = BIPOLAR
    return Artifact(draw(st.sampled_from(["a", "net", "digits-mlp"])), quantizer, tuple(layers),
                    metadata=draw(st.sampled_from([{}, {"accuracy": 0.25, "tags": ["x", 1]}])))
