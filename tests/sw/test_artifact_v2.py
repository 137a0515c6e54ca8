"""Artifact schema 2: ternary and fixed-point weights, multi-threshold and requantize outputs.

Round trips keep every integer; version 1 manifests still load; each new field is validated
with a message naming it.
"""

import json

import numpy as np
import pytest

from qnnforge.sw import reference
from qnnforge.sw.artifact import (Artifact, ArtifactError, DenseLayer, InputQuantizer,
                                  MultiThresholdActivation, RequantizeOutput, ScoreOutput,
                                  load_artifact)
from qnnforge.sw.encoding import TERNARY, sint, uint

QUANTIZER = InputQuantizer(uint(4), raw_min=0, raw_max=16, multiplier=15, shift=4)


def mixed_artifact() -> Artifact:
    """Return a 4 -> 3 -> 2 -> 2 network: int8 requantized, ternary multi-threshold, int4 scores."""
    fc0 = DenseLayer("fc0", uint(4), sint(8),
                     np.array([[-128, 127, 0, 5], [1, 2, 3, 4], [-1, -1, -1, -1]]),
                     RequantizeOutput(multiplier=np.array([20000, -16385, 0]),
                                      shift=np.array([20, 14, 0]),
                                      offset=np.array([1 << 19, 1 << 13, 7]),
                                      zero_point=np.array([0, 3, 0]), encoding=uint(8)))
    fc1 = DenseLayer("fc1", uint(8), TERNARY, np.array([[1, 0, -1], [-1, -1, 1]]),
                     MultiThresholdActivation(np.array([[-5, 0, 100], [-766, 766, 766]]),
                                              np.array([1, -1]), uint(2)))
    fc2 = DenseLayer("fc2", uint(2), sint(4), np.array([[-8, 7], [3, -2]]),
                     ScoreOutput(np.array([1, -1])))
    return Artifact("mixed", QUANTIZER, (fc0, fc1, fc2))


def test_round_trip_keeps_every_integer(tmp_path):
    artifact = mixed_artifact()
    artifact.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["schema_version"] == 4
    assert manifest["layers"][0]["output"] == {
        "kind": "requantize", "encoding": {"kind": "uint", "bits": 8},
        "multiplier": "fc0.multiplier", "shift": "fc0.shift", "offset": "fc0.offset",
        "zero_point": "fc0.zero_point"}
    assert manifest["layers"][1]["output"]["kind"] == "multithreshold"
    assert manifest["layers"][1]["weight_encoding"] == {"kind": "ternary", "bits": 2}
    loaded = load_artifact(tmp_path / "model")
    x = np.array([[0, 15, 7, 3], [15, 15, 15, 15], [0, 0, 0, 0]])
    for got, want in zip(reference.run(loaded, x).outputs, reference.run(artifact, x).outputs):
        np.testing.assert_array_equal(got, want)
    for layer, original in zip(loaded.layers, artifact.layers):
        assert layer.weight_encoding == original.weight_encoding
        np.testing.assert_array_equal(layer.weights, original.weights)


def test_reference_rules_by_hand():
    artifact = mixed_artifact()
    trace = reference.run(artifact, np.array([[15, 0, 0, 0], [0, 15, 0, 0]]))
    # fc0 channel 0: acc = -1920 -> (-1920 * 20000 + 2**19) >> 20 = -37 -> clamp 0
    #                acc = 1905  -> (1905 * 20000 + 2**19) >> 20 = 36
    assert trace.outputs[0][:, 0].tolist() == [0, 36]
    # channel 2: multiplier 0 -> offset 7 every time
    assert trace.outputs[0][:, 2].tolist() == [7, 7]
    acc = trace.outputs[0] @ np.array([[1, 0, -1], [-1, -1, 1]]).T
    expected = np.stack([np.sum(acc[:, :1] >= np.array([-5, 0, 100]), axis=1),
                         np.sum(-acc[:, 1:] >= np.array([-766, 766, 766]), axis=1)], axis=1)
    np.testing.assert_array_equal(trace.outputs[1], expected)


def test_version_1_manifest_still_loads(tmp_path):
    from .conftest import tiny_artifact

    tiny_artifact().save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 1
    path.write_text(json.dumps(manifest))
    loaded = load_artifact(tmp_path / "model")
    assert [layer.name for layer in loaded.layers] == ["fc0", "fc1"]


def test_version_1_rejects_version_2_kinds(tmp_path):
    mixed_artifact().save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.output\.kind: must be 'threshold' "
                                            r"or 'scores', not 'requantize'$"):
        load_artifact(tmp_path / "model")


def _replace_output(index, **changes):
    artifact = mixed_artifact()
    layer = artifact.layers[index]
    fields = dict(vars(layer.output))
    fields.update(changes)
    output = type(layer.output)(**fields)
    layers = list(artifact.layers)
    layers[index] = DenseLayer(layer.name, layer.input_encoding, layer.weight_encoding,
                               layer.weights, output)
    return lambda: Artifact("x", QUANTIZER, tuple(layers))


@pytest.mark.parametrize("build, message", [
    (_replace_output(0, multiplier=np.array([1 << 31, 0, 0])),
     r"^layers\[0\]\.output\.multiplier: values must lie in -2147483647\.\.2147483647$"),
    (_replace_output(0, multiplier=np.array([-2**63, 0, 0])),  # np.abs would wrap
     r"^layers\[0\]\.output\.multiplier: values must lie in -2147483647\.\.2147483647$"),
    (_replace_output(0, offset=np.array([-2**63, 0, 0])),
     r"^layers\[0\]\.output\.offset: values must lie in -?\d+\.\.\d+$"),
    (_replace_output(0, shift=np.array([63, 0, 0])),
     r"^layers\[0\]\.output\.shift: values must lie in 0\.\.62$"),
    (_replace_output(0, zero_point=np.array([256, 0, 0])),
     r"^layers\[0\]\.output\.zero_point: values must be legal uint8 values$"),
    (_replace_output(0, offset=np.array([1 << 62, 0, 0])),
     r"^layers\[0\]\.output\.offset: values must lie in -?\d+\.\.\d+$"),
    (_replace_output(0, encoding=TERNARY),
     r"^layers\[0\]\.output\.encoding: must be an integer encoding of at most 16 bits, "
     r"not ternary$"),
    (_replace_output(1, thresholds=np.array([[5, 0, 100], [-766, 766, 766]])),
     r"^layers\[1\]\.output\.thresholds: each channel's thresholds must be non-decreasing$"),
    (_replace_output(1, thresholds=np.array([[-5, 0, 100], [-766, 766, 767]])),
     r"^layers\[1\]\.output\.thresholds: values must lie in -766\.\.766 \(the accumulator bound "
     r"is 765\)$"),
    (_replace_output(1, directions=np.array([1, 0])),
     r"^layers\[1\]\.output\.directions: values must be -1 or \+1$"),
])
def test_invalid_v2_outputs_are_rejected(build, message):
    with pytest.raises(ArtifactError, match=message):
        build()


def test_weights_must_be_legal_and_at_most_16_bits():
    artifact = mixed_artifact()
    fc1 = artifact.layers[1]
    bad = DenseLayer("fc1", uint(8), TERNARY, np.array([[2, 0, -1], [-1, -1, 1]]), fc1.output)
    with pytest.raises(ArtifactError, match=r"^layers\[1\]\.weights: values must be legal "
                                            r"ternary values$"):
        Artifact("x", QUANTIZER, (artifact.layers[0], bad, artifact.layers[2]))
    wide = DenseLayer("fc2", uint(2), sint(20), np.array([[-8, 7], [3, -2]]),
                      ScoreOutput(np.array([1, -1])))
    with pytest.raises(ArtifactError, match=r"^layers\[2\]\.weight_encoding: weights must have "
                                            r"at most 16 bits, not int20$"):
        Artifact("x", QUANTIZER, (*artifact.layers[:2], wide))


def test_multithreshold_shape_is_checked_on_load(tmp_path):
    mixed_artifact().save(tmp_path / "model")
    with np.load(tmp_path / "model" / "arrays.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["fc1.thresholds"] = arrays["fc1.thresholds"][:, :2]
    with open(tmp_path / "model" / "arrays.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ArtifactError, match=r"^layers\[1\]\.output\.thresholds: array "
                                            r"'fc1\.thresholds' must have shape \(2, 3\), "
                                            r"not \(2, 2\)$"):
        load_artifact(tmp_path / "model")


def test_a_schema_2_file_still_loads(tmp_path):
    """Files written before schema 3 (the same fields, version 2) load unchanged."""
    artifact = mixed_artifact()
    artifact.save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 2
    path.write_text(json.dumps(manifest))
    loaded = load_artifact(tmp_path / "model")
    x = np.array([[0, 15, 7, 3], [15, 15, 15, 15]])
    np.testing.assert_array_equal(reference.run(loaded, x).scores,
                                  reference.run(artifact, x).scores)
