"""The artifact: exact save/load round trips, validation messages, atomic saves, the input rule."""

import json
import os
import re
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qnnforge.sw import artifact as artifact_module
from qnnforge.sw.artifact import (
    Artifact, ArtifactError, DenseLayer, InputQuantizer, ScoreOutput, ThresholdActivation,
    load_artifact,
)
from qnnforge.sw.encoding import BIPOLAR, sint, uint
from qnnforge.sw.errors import QnnforgeError

from .conftest import DIGITS_QUANTIZER, artifacts, assert_same_artifact, tiny_artifact


def _leftovers(parent: Path, keep: str) -> list[str]:
    return sorted(name for name in os.listdir(parent) if name != keep)


# --- round trip ----------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    original = tiny_artifact()
    assert original.save(tmp_path / "model") == tmp_path / "model"
    loaded = load_artifact(tmp_path / "model")
    assert_same_artifact(loaded, original)
    assert loaded.num_classes == 2 and loaded.in_features == 4
    assert sorted(os.listdir(tmp_path / "model")) == ["arrays.npz", "manifest.json"]


def test_manifest_spells_out_the_network(saved):
    manifest = saved.manifest()
    assert (manifest["format"], manifest["schema_version"], manifest["name"]) == (
        "qnnforge.artifact", 4, "tiny")
    assert manifest["input"] == {"shape": [4], "encoding": {"kind": "uint", "bits": 4},
                                 "raw_min": 0, "raw_max": 16, "multiplier": 15, "shift": 4}
    assert [layer["accumulator_bound"] for layer in manifest["layers"]] == [60, 3]
    assert manifest["layers"][0]["output"] == {
        "kind": "threshold", "encoding": {"kind": "bipolar", "bits": 1},
        "thresholds": "fc0.thresholds", "directions": "fc0.directions"}
    assert manifest["layers"][1]["output"] == {"kind": "scores", "bias": "fc1.bias"}
    assert manifest["output"] == {"kind": "argmax", "classes": 2, "tie_break": "lowest_index"}
    with np.load(saved.path / "arrays.npz") as npz:
        assert sorted(npz.files) == ["fc0.directions", "fc0.thresholds", "fc0.weights",
                                     "fc1.bias", "fc1.weights"]
        assert all(npz[key].dtype.kind == "i" for key in npz.files)


@settings(max_examples=25)
@given(artifacts())
def test_random_artifacts_round_trip(artifact):
    with tempfile.TemporaryDirectory() as directory:
        artifact.save(Path(directory) / "a")
        assert_same_artifact(load_artifact(Path(directory) / "a"), artifact)


# --- rejected files ------------------------------------------------------------------------------

def _set(path, value):
    """Return an edit that sets ``manifest[path...] = value`` (path: keys and list indices)."""
    def edit(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _delete(path):
    def edit(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return edit


MANIFEST_ERRORS = [
    (_set(["schema_version"], 5),
     r"^schema_version: version 5 is not supported \(this qnnforge reads versions 1, 2, 3, "
     r"4\)$"),
    (_set(["schema_version"], "1"), r"^schema_version: must be an integer, not '1'$"),
    (_set(["format"], "onnx"), r"^format: must be 'qnnforge\.artifact', not 'onnx'$"),
    (_delete(["format"]), r"^format: missing field$"),
    (_delete(["layers", 1, "out_features"]), r"^layers\[1\]\.out_features: missing field$"),
    (_delete(["input", "raw_max"]), r"^input\.raw_max: missing field$"),
    (_set(["layers", 0, "in_features"], "4"),
     r"^layers\[0\]\.in_features: must be an integer, not '4'$"),
    (_set(["layers", 0, "in_features"], 0),
     r"^layers\[0\]\.in_features: must be a positive integer, not 0$"),
    (_set(["input", "multiplier"], True), r"^input\.multiplier: must be an integer, not True$"),
    (_set(["input", "shift"], 4.0), r"^input\.shift: must be an integer, not 4\.0$"),
    (_set(["name"], 5), r"^name: must be of type str, not int$"),
    (_set(["name"], ""), r"^name: must be a non-empty string$"),
    (_set(["layers"], {}), r"^layers: must be of type list, not dict$"),
    (_set(["layers"], []), r"^layers: must hold at least one layer$"),
    (_set(["layers", 0, "op"], "conv"),
     r"^layers\[0\]\.op: must be one of 'dense', 'conv2d', 'maxpool2d', not 'conv'$"),
    (_set(["layers", 0, "name"], "fc 0"), r"^layers\[0\]\.name: must be an identifier, not 'fc 0'$"),
    (_set(["layers", 1, "name"], "fc0"), r"^layers\[1\]\.name: duplicate layer name 'fc0'$"),
    (_set(["layers", 0, "output", "kind"], "relu"),
     r"^layers\[0\]\.output\.kind: must be 'threshold', 'multithreshold', 'requantize' or "
     r"'scores', not 'relu'$"),
    (_set(["layers", 0, "input_encoding"], {"kind": "uint", "bits": 40}),
     r"^layers\[0\]\.input_encoding: Encoding 'uint' needs bits in 1\.\.32, not 40$"),
    (_set(["layers", 0, "input_encoding"], {"kind": "uint", "bits": 5}),
     r"^layers\[0\]\.input_encoding: must match the previous output \(uint4\), not uint5$"),
    (lambda manifest: (_set(["schema_version"], 1)(manifest),
                       _set(["layers", 1, "weight_encoding"], {"kind": "int", "bits": 2})(manifest)),
     r"^layers\[1\]\.weight_encoding: schema version 1 supports bipolar weights, not int2$"),
    (_set(["layers", 0, "output", "encoding"], {"kind": "uint", "bits": 1}),
     r"^layers\[0\]\.output\.encoding: must be bipolar$"),
    (_set(["input", "encoding"], {"kind": "int", "bits": 4}),
     r"^input\.encoding: must be an unsigned encoding, not int4$"),
    (_set(["input", "raw_min"], 17), r"^input\.raw_min: must not exceed raw_max \(16\), not 17$"),
    (_set(["input", "multiplier"], 0), r"^input\.multiplier: must lie in 1\.\.2147483647, not 0$"),
    # a multiplier of 2**60 made quantize([1, 8, 16]) wrap in int64; 10**30 overflowed numpy
    (_set(["input", "multiplier"], 2**60),
     r"^input\.multiplier: must lie in 1\.\.2147483647, not 1152921504606846976$"),
    (_set(["input", "multiplier"], 10**30),
     r"^input\.multiplier: must lie in 1\.\.2147483647, not 10{30}$"),
    (_set(["input", "raw_max"], 2**31),
     r"^input\.raw_max: must lie in -2147483647\.\.2147483647, not 2147483648$"),
    (_set(["input", "shift"], 32), r"^input\.shift: must lie in 0\.\.31, not 32$"),
    (_set(["input", "shape"], [5]), r"^input\.shape: must be \[4\], not \[5\]$"),
    (_set(["output", "kind"], "softmax"), r"^output\.kind: must be 'argmax', not 'softmax'$"),
    (_set(["output", "classes"], 3), r"^output\.classes: must be 2, not 3$"),
    (_set(["layers", 0, "accumulator_bound"], 61),
     r"^layers\[0\]\.accumulator_bound: must be 60 \(the worst-case \|accumulator\| of the "
     r"layer's encodings and fan-in\), not 61$"),
    (_set(["layers", 0, "op"], "conv2d"), r"^layers\[0\]\.in_shape: missing field$"),
    (_set(["output", "tie_break"], "random"),
     r"^output\.tie_break: must be 'lowest_index', not 'random'$"),
    (_set(["layers", 0, "weights"], "fc1.weights"),
     r"^layers\[0\]\.weights: array 'fc1\.weights' must have shape \(3, 4\), not \(2, 3\)$"),
    (_delete(["layers", 1]),  # the threshold layer is now last
     r"^layers\[0\]\.output\.kind: must be 'scores' for the last layer and an activation for "
     r"every other layer$"),
]


@pytest.mark.parametrize("edit, message", MANIFEST_ERRORS)
def test_load_rejects_bad_manifest(saved, edit, message):
    saved.edit_manifest(edit)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved.path)


def _put(key, value):
    def edit(arrays):
        arrays[key] = np.asarray(value)
    return edit


ARRAY_ERRORS = [
    (_put("fc0.weights", np.ones((3, 5), dtype=np.int8)),
     r"^layers\[0\]\.weights: array 'fc0\.weights' must have shape \(3, 4\), not \(3, 5\)$"),
    (_put("fc1.bias", np.zeros((2, 1), dtype=np.int64)),
     r"^layers\[1\]\.output\.bias: array 'fc1\.bias' must have shape \(2,\), not \(2, 1\)$"),
    (_put("fc0.thresholds", np.array([7.0, -60.0, 61.0])),
     r"^layers\[0\]\.output\.thresholds: array 'fc0\.thresholds' must hold integers, not "
     r"float64$"),
    (_put("fc1.weights", np.array([[True, False, True], [False, True, True]])),
     r"^layers\[1\]\.weights: array 'fc1\.weights' must hold integers, not bool$"),
    (_put("fc0.weights", [[1, -1, 1, 1], [-1, -1, 2, -1], [1, 1, 1, 1]]),
     r"^layers\[0\]\.weights: values must be legal bipolar values$"),
    (_put("fc1.weights", [[1, -1, 1], [-1, 0, 1]]),
     r"^layers\[1\]\.weights: values must be legal bipolar values$"),
    (_put("fc0.thresholds", [7, -60, 62]),
     r"^layers\[0\]\.output\.thresholds: values must lie in -61\.\.61 \(the accumulator bound "
     r"is 60\)$"),
    (_put("fc0.thresholds", [-62, 0, 0]),
     r"^layers\[0\]\.output\.thresholds: values must lie in -61\.\.61 \(the accumulator bound "
     r"is 60\)$"),
    (_put("fc0.directions", [1, 0, 1]), r"^layers\[0\]\.output\.directions: values must be -1 or \+1$"),
    (_put("fc0.directions", [1, -1, 2]),
     r"^layers\[0\]\.output\.directions: values must be -1 or \+1$"),
    (_put("fc0.directions", np.array([2**64 - 1] * 3, dtype=np.uint64)),  # would wrap to -1
     r"^layers\[0\]\.output\.directions: array 'fc0\.directions' holds values beyond the int64 "
     r"range$"),
    (_put("fc1.bias", [4, 0]), r"^layers\[1\]\.output\.bias: values must lie in -3\.\.3$"),
    # np.abs(int64 minimum) is still negative: the range checks must not go through abs
    (_put("fc1.bias", [-2**63, 0]), r"^layers\[1\]\.output\.bias: values must lie in -3\.\.3$"),
    (_put("fc0.thresholds", [-2**63, 0, 0]),
     r"^layers\[0\]\.output\.thresholds: values must lie in -61\.\.61 \(the accumulator bound "
     r"is 60\)$"),
]


@pytest.mark.parametrize("edit, message", ARRAY_ERRORS)
def test_load_rejects_bad_arrays(saved, edit, message):
    saved.edit_arrays(edit)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved.path)


def test_thresholds_may_reach_bound_plus_one(saved):
    saved.edit_arrays(_put("fc0.thresholds", [61, -61, 61]))
    np.testing.assert_array_equal(load_artifact(saved.path).layers[0].output.thresholds,
                                  [61, -61, 61])


def test_load_rejects_a_missing_array_key(saved):
    saved.edit_arrays(lambda arrays: arrays.pop("fc0.weights"))
    with pytest.raises(ArtifactError,
                       match=r"^layers\[0\]\.weights: array 'fc0\.weights' is missing from "
                             r"arrays\.npz$"):
        load_artifact(saved.path)


def test_load_rejects_a_broken_layer_chain(saved):
    saved.edit_manifest(_set(["layers", 1, "in_features"], 2))
    saved.edit_arrays(_put("fc1.weights", [[1, -1], [-1, 1]]))
    with pytest.raises(ArtifactError, match=r"^layers\[1\]\.in_features: must equal the previous "
                                            r"layer's output size \(3\), not 2$"):
        load_artifact(saved.path)


def test_load_rejects_a_scores_layer_before_the_last(saved):
    def edit(manifest):
        manifest["layers"][1] = dict(manifest["layers"][0], name="fc1", in_features=3,
                                     weights="fc1.weights", input_encoding=BIPOLAR.to_json())
        manifest["layers"][0]["output"] = {"kind": "scores", "bias": "fc0.bias"}
    saved.edit_manifest(edit)
    saved.edit_arrays(_put("fc0.bias", [0, 0, 0]))
    saved.edit_arrays(_put("fc1.weights", np.ones((3, 3), dtype=np.int8)))
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.output\.kind: must be 'scores' for "
                                            r"the last layer and an activation for every "
                                            r"other layer$"):
        load_artifact(saved.path)


@pytest.mark.parametrize("old, new, message", [
    ('"raw_min": 0', '"raw_min": NaN',
     r"^input\.raw_min: NaN is not allowed \(values must be integers\)$"),
    ('"schema_version": 4', '"schema_version": Infinity',
     r"^schema_version: Infinity is not allowed \(values must be integers\)$"),
    ('"seed": 7', '"seed": -Infinity',
     r"^metadata\.seed: -Infinity is not allowed \(values must be integers\)$"),
    ('"shape": [\n      4\n    ]', '"shape": [NaN]',
     r"^input\.shape\[0\]: NaN is not allowed \(values must be integers\)$"),
])
def test_load_rejects_non_finite_constants(saved, old, new, message):
    saved.edit_manifest_text(old, new)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved.path)


def test_load_rejects_a_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match=f"^{re.escape(str(tmp_path / 'nope'))}: not an "
                                            f"artifact directory$"):
        load_artifact(tmp_path / "nope")


def test_load_rejects_missing_or_unreadable_arrays(saved):
    (saved.path / "arrays.npz").write_bytes(b"not a zip file")
    with pytest.raises(ArtifactError, match=r"^arrays\.npz: unreadable \(.+\)$"):
        load_artifact(saved.path)
    (saved.path / "arrays.npz").unlink()
    with pytest.raises(ArtifactError, match=f"^{re.escape(str(saved.path))}: arrays\\.npz is "
                                            f"missing$"):
        load_artifact(saved.path)


@pytest.mark.parametrize("text, message", [
    ('{"format": ', r"^manifest\.json: not valid JSON \(.+\)$"),
    ("[]", r"^manifest\.json: must be an object, not list$"),
    ('{"format": "qnnforge.artifact", "schema_version": 1, "name": "x", "input": 3}',
     r"^input: must be of type dict, not int$"),
])
def test_load_rejects_malformed_manifests(saved, text, message):
    (saved.path / "manifest.json").write_text(text)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(saved.path)


def test_load_rejects_a_missing_manifest(saved):
    (saved.path / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=f"^{re.escape(str(saved.path))}: manifest\\.json is "
                                            f"missing$"):
        load_artifact(saved.path)


def test_invalid_artifacts_cannot_be_built_in_memory():
    layer = tiny_artifact().layers[0]
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.output\.kind: must be 'scores' for "
                                            r"the last layer and an activation for every "
                                            r"other layer$"):
        Artifact("x", DIGITS_QUANTIZER, (layer,))
    scores = DenseLayer("out", uint(4), BIPOLAR, np.ones((2, 4), dtype=np.int64),
                        ScoreOutput(np.array([0, 61])))
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.output\.bias: values must lie in "
                                            r"-60\.\.60$"):
        Artifact("x", DIGITS_QUANTIZER, (scores,))
    assert issubclass(ArtifactError, ValueError) and issubclass(ArtifactError, QnnforgeError)


# --- atomic save ---------------------------------------------------------------------------------

def _other_artifact() -> Artifact:
    base = tiny_artifact()
    fc1 = DenseLayer("fc1", BIPOLAR, BIPOLAR, -base.layers[1].weights, ScoreOutput(np.array([0, 1])))
    return Artifact("other", base.input, (base.layers[0], fc1), metadata={"run": 2})


def test_save_replaces_an_existing_artifact(tmp_path):
    tiny_artifact().save(tmp_path / "model")
    (tmp_path / "model" / "stale.txt").write_text("from an older save")
    _other_artifact().save(tmp_path / "model")
    assert_same_artifact(load_artifact(tmp_path / "model"), _other_artifact())
    assert sorted(os.listdir(tmp_path / "model")) == ["arrays.npz", "manifest.json"]
    assert _leftovers(tmp_path, "model") == []


def test_save_creates_missing_parents(tmp_path):
    tiny_artifact().save(tmp_path / "a" / "b" / "model")
    assert_same_artifact(load_artifact(tmp_path / "a" / "b" / "model"), tiny_artifact())


def test_failed_save_keeps_the_previous_artifact(tmp_path, monkeypatch):
    tiny_artifact().save(tmp_path / "model")

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match=r"^disk full$"):
        _other_artifact().save(tmp_path / "model")
    monkeypatch.undo()
    assert_same_artifact(load_artifact(tmp_path / "model"), tiny_artifact())
    assert _leftovers(tmp_path, "model") == []


def test_failed_save_to_a_new_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(artifact_module.json, "dumps", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tiny_artifact().save(tmp_path / "model")
    assert os.listdir(tmp_path) == []


def test_failed_final_rename_restores_the_previous_artifact(tmp_path, monkeypatch):
    tiny_artifact().save(tmp_path / "model")
    rename = os.rename

    def rename_failing_into_place(source, target):
        if Path(target) == tmp_path / "model" and ".old." not in str(source):
            raise OSError("rename interrupted")
        rename(source, target)
    monkeypatch.setattr(artifact_module.os, "rename", rename_failing_into_place)
    with pytest.raises(OSError, match=r"^rename interrupted$"):
        _other_artifact().save(tmp_path / "model")
    monkeypatch.undo()
    assert_same_artifact(load_artifact(tmp_path / "model"), tiny_artifact())
    assert _leftovers(tmp_path, "model") == []


# --- input quantizer -----------------------------------------------------------------------------

# round-half-up(x * 15 / 16) for the 17 load_digits pixel values, worked out by hand.
DIGITS_TABLE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15]


def test_digits_rule_matches_the_hand_table():
    raw = np.arange(17)
    np.testing.assert_array_equal(DIGITS_QUANTIZER.quantize(raw), DIGITS_TABLE)
    np.testing.assert_array_equal(DIGITS_QUANTIZER.quantize(raw.reshape(1, 17).astype(np.uint8)),
                                  [DIGITS_TABLE])
    np.testing.assert_array_equal(DIGITS_QUANTIZER.quantize(raw.astype(np.float64)), DIGITS_TABLE)


@pytest.mark.parametrize("raw, message", [
    ([0, 17], r"^raw features must lie in 0\.\.16, not 0\.\.17$"),
    ([[-1, 3], [4, 5]], r"^raw features must lie in 0\.\.16, not -1\.\.5$"),
    ([0.5, 2.0], r"^raw features must be integers$"),
    ([np.nan], r"^raw features must be integers$"),
    ([np.inf], r"^raw features must be integers$"),
])
def test_quantize_rejects_bad_raw_values(raw, message):
    with pytest.raises(ValueError, match=message):
        DIGITS_QUANTIZER.quantize(np.array(raw))


def test_quantize_rejects_non_numeric_arrays():
    with pytest.raises(TypeError, match=r"^raw features must be an integer array, not <U1$"):
        DIGITS_QUANTIZER.quantize(np.array(["1"]))


@given(bits=st.integers(1, 8), raw_max=st.integers(0, 1000), multiplier=st.integers(1, 300),
       shift=st.integers(0, 12), data=st.data())
def test_quantize_rounds_half_up_and_clamps(bits, raw_max, multiplier, shift, data):
    quantizer = InputQuantizer(uint(bits), 0, raw_max, multiplier, shift)
    raw = data.draw(st.lists(st.integers(0, raw_max), min_size=1, max_size=20))
    expected = [min(int(Fraction(x * multiplier, 2**shift) + Fraction(1, 2)) if shift else
                    x * multiplier, 2**bits - 1) for x in raw]
    np.testing.assert_array_equal(quantizer.quantize(np.array(raw)), expected)


def test_quantizer_round_trips_with_signed_raw_range(tmp_path):
    quantizer = InputQuantizer(uint(3), raw_min=-5, raw_max=5, multiplier=3, shift=1)
    np.testing.assert_array_equal(quantizer.quantize(np.arange(-5, 6)),
                                  [0, 0, 0, 0, 0, 0, 2, 3, 5, 6, 7])
    layer = DenseLayer("fc0", uint(3), BIPOLAR, np.ones((1, 2), dtype=np.int64),
                       ScoreOutput(np.array([0])))
    Artifact("signed", quantizer, (layer,)).save(tmp_path / "m")
    assert load_artifact(tmp_path / "m").input == quantizer
    assert sint(4) != quantizer.encoding
