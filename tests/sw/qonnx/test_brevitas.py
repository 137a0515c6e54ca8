"""Brevitas models through the importer, checked against QONNX's own executor.

The executor (``qonnx.core.onnx_exec.execute_onnx``) is code no one here wrote: the imported
artifact's integer reference must give its class on every held-out digit and its quantized
activations at every quantizer. Binary and ternary models (integer or power-of-two scales) agree
100 %; the 4-bit model has float scales, so a value can fall within one float32 ulp of a
threshold, where the executor's own rounding decides: each such disagreement is shown.
"""

from __future__ import annotations

import numpy as np
import pytest

from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint
from qnnforge.sw.inputs import FloatInputQuantizer
from qnnforge.sw.outputs import MultiThresholdActivation, ScoreOutput, ThresholdActivation
from qnnforge.sw.qonnx.importer import import_qonnx
from qnnforge.sw.reference import run

from .clients import agreement


@pytest.mark.parametrize("kind, weights, activations, exact", [
    ("binary", BIPOLAR, ThresholdActivation, True),
    ("ternary", TERNARY, MultiThresholdActivation, True),
    ("int4", sint(4), MultiThresholdActivation, False),
])
def test_brevitas_mlp_matches_qonnx_executor(brevitas_mlps, digits, kind, weights, activations,
                                             exact):
    artifact = import_qonnx(brevitas_mlps[kind])
    assert isinstance(artifact.input, FloatInputQuantizer)
    assert [layer.weight_encoding for layer in artifact.layers] == [weights, weights]
    assert isinstance(artifact.layers[0].output, activations)
    assert isinstance(artifact.layers[1].output, ScoreOutput)
    x = digits.x_test.astype(np.float32)
    result = agreement(brevitas_mlps[kind], artifact, x)
    assert result.unexplained == []
    if exact:  # integer and power-of-two scales: every class and every activation
        assert (result.classes, result.differing) == (360, [])
    else:
        assert result.classes >= 0.995 * 360
    accuracy = np.mean(run(artifact, artifact.input.quantize(x)).classes == digits.y_test)
    assert accuracy > 0.7  # trained for seconds, but trained


def test_input_codes_follow_the_graph(brevitas_mlps):
    artifact = import_qonnx(brevitas_mlps["binary"])
    rule = artifact.input
    assert rule.raw_shape == (64,) and rule.encoding == uint(1)
    # x / 8 - 1 >= 0 exactly from pixel 8: bipolar +1 is u = 1
    codes = rule.quantize(np.array([[7.0] * 32 + [8.0] * 32], dtype=np.float32))
    assert codes.tolist() == [[0] * 32 + [1] * 32]


def test_tfc_w1a1_matches_qonnx_executor(tfc):
    artifact = import_qonnx(tfc)
    assert [layer.in_features for layer in artifact.layers] == [784, 64, 64, 64]
    assert artifact.input.raw_shape == (1, 28, 28) and artifact.input.encoding == uint(1)
    x = np.random.default_rng(1).uniform(0, 1, size=(1000, 1, 28, 28)).astype(np.float32)
    result = agreement(tfc, artifact, x)
    assert (result.classes, result.differing) == (1000, [])


def test_brevitas_binary_cnn_matches_qonnx_executor(brevitas_cnn, digits):
    artifact = import_qonnx(brevitas_cnn)
    assert [layer.op for layer in artifact.layers] == ["conv2d", "maxpool2d", "dense"]
    assert artifact.input.raw_shape == (1, 8, 8) and artifact.input.channels_last
    assert artifact.layers[0].in_shape == (8, 8, 1) and artifact.layers[1].out_shape == (3, 3, 16)
    x = digits.x_test.reshape(-1, 1, 8, 8).astype(np.float32)
    result = agreement(brevitas_cnn, artifact, x)
    assert (result.classes, result.differing) == (360, [])
    accuracy = np.mean(run(artifact, artifact.input.quantize(x)).classes == digits.y_test)
    assert accuracy > 0.5  # a binary CNN trained for seconds: well above chance (0.1)
