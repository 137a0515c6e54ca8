"""Schema 3's image layers in a manifest: every conv2d and maxpool2d field checked on load, with
a message naming the field (missing, of the wrong type, out of range, or from an older schema)."""

import json

import numpy as np
import pytest

from qnnforge.sw import reference
from qnnforge.sw.artifact import (Artifact, ArtifactError, Conv2dLayer, DenseLayer,
                                  MaxPool2dLayer, ScoreOutput, ThresholdActivation,
                                  load_artifact)
from qnnforge.sw.encoding import BIPOLAR, uint

from .conftest import DIGITS_QUANTIZER


def image_artifact() -> Artifact:
    """conv0 (4x4x1 -> 4x4x2, pad 1 with 0) -> pool0 (2x2) -> fc0 (8 -> 2 scores)."""
    rng = np.random.default_rng(0)
    conv = Conv2dLayer("conv0", uint(4), BIPOLAR, (4, 4, 1),
                       rng.choice([-1, 1], size=(2, 3, 3, 1)), stride=(1, 1),
                       padding=(1, 1, 1, 1), pad_value=0,
                       output=ThresholdActivation(np.array([3, -2]), np.array([1, -1])))
    pool = MaxPool2dLayer("pool0", BIPOLAR, (4, 4, 2), (2, 2), (2, 2))
    dense = DenseLayer("fc0", BIPOLAR, BIPOLAR, rng.choice([-1, 1], size=(2, 8)),
                       ScoreOutput(np.array([1, -1])))
    return Artifact("image", DIGITS_QUANTIZER, (conv, pool, dense))


@pytest.fixture
def saved(tmp_path):
    image_artifact().save(tmp_path / "model")
    return tmp_path / "model"


def _load_edited(path, edit):
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    return load_artifact(path)


def test_image_artifact_round_trips(saved):
    loaded = load_artifact(saved)
    assert [layer.op for layer in loaded.layers] == ["conv2d", "maxpool2d", "dense"]
    assert loaded.in_shape == (4, 4, 1)
    codes = np.random.default_rng(1).integers(0, 16, (5, 16))
    np.testing.assert_array_equal(reference.run(loaded, codes).scores,
                                  reference.run(image_artifact(), codes).scores)


def _layer(index, key, value=None, delete=False):
    def edit(manifest):
        if delete:
            del manifest["layers"][index][key]
        else:
            manifest["layers"][index][key] = value
    return edit


CONV_CASES = [
    *[(_layer(0, key, delete=True), rf"^layers\[0\]\.{key}: missing field$")
      for key in ("name", "in_shape", "out_channels", "kernel", "stride", "padding", "pad_value",
                  "input_encoding", "weight_encoding", "weights", "output")],
    (_layer(0, "in_shape", "4x4"), r"^layers\[0\]\.in_shape: must be of type list, not str$"),
    (_layer(0, "in_shape", [4, 4]),
     r"^layers\[0\]\.in_shape: must be a list of 3 integers, not \[4, 4\]$"),
    (_layer(0, "in_shape", [4, 4, 1.0]),
     r"^layers\[0\]\.in_shape: must be a list of 3 integers, not \[4, 4, 1\.0\]$"),
    (_layer(0, "in_shape", [4, 0, 1]),
     r"^layers\[0\]\.in_shape: values must be at least 1, not \[4, 0, 1\]$"),
    (_layer(0, "out_channels", True), r"^layers\[0\]\.out_channels: must be an integer, not True$"),
    (_layer(0, "out_channels", 0),
     r"^layers\[0\]\.out_channels: must be a positive integer, not 0$"),
    (_layer(0, "out_channels", 3), r"^layers\[0\]\.weights: array 'conv0\.weights' must have "
                                   r"shape \(3, 3, 3, 1\), not \(2, 3, 3, 1\)$"),
    (_layer(0, "kernel", [3, 3, 3]),
     r"^layers\[0\]\.kernel: must be a list of 2 integers, not \[3, 3, 3\]$"),
    (_layer(0, "kernel", [0, 3]),
     r"^layers\[0\]\.kernel: values must be at least 1, not \[0, 3\]$"),
    (_layer(0, "stride", [1, True]),
     r"^layers\[0\]\.stride: must be a list of 2 integers, not \[1, True\]$"),
    (_layer(0, "stride", [0, 1]),
     r"^layers\[0\]\.stride: values must be at least 1, not \[0, 1\]$"),
    (_layer(0, "padding", [1, 1, 1]),
     r"^layers\[0\]\.padding: must be a list of 4 integers, not \[1, 1, 1\]$"),
    (_layer(0, "padding", [1, -1, 1, 1]),
     r"^layers\[0\]\.padding: values must be at least 0, not \[1, -1, 1, 1\]$"),
    (_layer(0, "pad_value", "0"), r"^layers\[0\]\.pad_value: must be an integer, not '0'$"),
    (_layer(0, "pad_value", 16), r"^layers\[0\]\.pad_value: must be a legal uint4 value, not 16$"),
    (_layer(0, "pad_value", -1), r"^layers\[0\]\.pad_value: must be a legal uint4 value, not -1$"),
    (_layer(0, "weight_encoding", {"kind": "int", "bits": 17}),
     r"^layers\[0\]\.weight_encoding: weights must have at most 16 bits, not int17$"),
    (_layer(0, "output", {"kind": "scores", "bias": "fc0.bias"}),
     r"^layers\[0\]\.output\.kind: must be an activation \(a convolution does not produce "
     r"class scores\)$"),
    (lambda m: (_layer(0, "in_shape", [2, 2, 1])(m), _layer(0, "padding", [0, 0, 0, 0])(m)),
     r"^layers\[0\]\.kernel: \[3, 3\] does not fit the padded image 2x2$"),
    (_layer(0, "input_encoding", {"kind": "uint", "bits": 8}),
     r"^layers\[0\]\.input_encoding: must match the previous output \(uint4\), not uint8$"),
    (_layer(0, "accumulator_bound", 134),
     r"^layers\[0\]\.accumulator_bound: must be 135 \(the worst-case \|accumulator\| of the "
     r"layer's encodings and fan-in\), not 134$"),
]

POOL_CASES = [
    *[(_layer(1, key, delete=True), rf"^layers\[1\]\.{key}: missing field$")
      for key in ("name", "in_shape", "kernel", "stride", "input_encoding")],
    (_layer(1, "in_shape", [4, 4, 3]),
     r"^layers\[1\]\.in_shape: must equal the previous layer's output shape \[4, 4, 2\], "
     r"not \[4, 4, 3\]$"),
    (_layer(1, "in_shape", [4, 4, "2"]),
     r"^layers\[1\]\.in_shape: must be a list of 3 integers, not \[4, 4, '2'\]$"),
    (_layer(1, "kernel", 2), r"^layers\[1\]\.kernel: must be of type list, not int$"),
    (_layer(1, "kernel", [5, 2]),
     r"^layers\[1\]\.kernel: \[5, 2\] does not fit the padded image 4x4$"),
    (_layer(1, "stride", [2, 0]),
     r"^layers\[1\]\.stride: values must be at least 1, not \[2, 0\]$"),
    (_layer(1, "input_encoding", {"kind": "uint", "bits": 4}),
     r"^layers\[1\]\.input_encoding: must match the previous output \(bipolar\), not uint4$"),
    (_layer(2, "in_features", 9),
     r"^layers\[2\]\.weights: array 'fc0\.weights' must have shape \(2, 9\), not \(2, 8\)$"),
]


@pytest.mark.parametrize("edit, message", CONV_CASES + POOL_CASES)
def test_malformed_image_layers_are_rejected(saved, edit, message):
    with pytest.raises(ArtifactError, match=message):
        _load_edited(saved, edit)


def test_schema_version_2_has_no_convolutions(saved):
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.op: schema version 2 has no "
                                            r"'conv2d' layers \(they need version 3\)$"):
        _load_edited(saved, lambda manifest: manifest.update(schema_version=2))


def test_schema_version_2_has_no_pools(tmp_path):
    pool = MaxPool2dLayer("pool0", uint(4), (4, 4, 1), (2, 2), (2, 2))
    scores = DenseLayer("fc0", uint(4), BIPOLAR, np.ones((2, 4), dtype=np.int64),
                        ScoreOutput(np.zeros(2, dtype=np.int64)))
    Artifact("pooled", DIGITS_QUANTIZER, (pool, scores)).save(tmp_path / "m")
    assert load_artifact(tmp_path / "m").layers[0].out_shape == (2, 2, 1)
    with pytest.raises(ArtifactError, match=r"^layers\[0\]\.op: schema version 2 has no "
                                            r"'maxpool2d' layers \(they need version 3\)$"):
        _load_edited(tmp_path / "m", lambda manifest: manifest.update(schema_version=2))
