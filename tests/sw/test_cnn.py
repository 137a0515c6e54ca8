"""The quantized CNN: exported exactly (reference == model on every test digit), padded with what
the hardware pads with, pooled on codes, configured with clear errors."""

import functools
import json

import numpy as np
import pytest
import torch

from qnnforge.sw import reference
from qnnforge.sw.artifact import Conv2dLayer, DenseLayer, MaxPool2dLayer, load_artifact
from qnnforge.sw.cnn import QuantCNN, cnn_plan, pad_value
from qnnforge.sw.config import ConfigError, TrainConfig
from qnnforge.sw.data import load_digits_split
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint
from qnnforge.sw.export import export_artifact, quantized_predict
from qnnforge.sw.pipeline import train_and_export
from qnnforge.sw.precision import layer_precisions
from qnnforge.sw.train import train_quantized

from .conftest import DIGITS_QUANTIZER

SMALL = (8, 8, 16)
"""Channels of the test networks: conv0 (8x8), conv1 + pool0 (4x4), conv2 + pool1 (2x2)."""


@functools.cache
def _trained(precision: str):
    """Return the pipeline's result for ``precision`` (trained once per test process)."""
    config = TrainConfig(arch="cnn", channels=SMALL, precision=precision, epochs=2)
    return train_and_export(config, split=load_digits_split())


@pytest.mark.parametrize("precision", ["binary", "int4", "mixed"])
def test_exported_cnn_predicts_what_the_model_predicts(precision):
    # train_and_export raises ReferenceMismatchError if a single test digit differs
    trained = _trained(precision)
    assert trained.reference_accuracy == trained.quantized_accuracy > 0.3  # chance: 0.1
    artifact = trained.artifact
    assert artifact.name == f"digits-{precision}-cnn"
    assert [(layer.name, type(layer)) for layer in artifact.layers] == [
        ("conv0", Conv2dLayer), ("conv1", Conv2dLayer), ("pool0", MaxPool2dLayer),
        ("conv2", Conv2dLayer), ("pool1", MaxPool2dLayer), ("fc0", DenseLayer)]
    assert [tuple(layer.out_shape) for layer in artifact.layers] == [
        (8, 8, 8), (8, 8, 8), (4, 4, 8), (4, 4, 16), (2, 2, 16), (10,)]
    assert artifact.in_shape == (8, 8, 1)
    assert artifact.metadata["training"] == {
        "arch": "cnn", "channels": list(SMALL), "epochs": 2, "input_bits": 4, "seed": 0,
        "precision": TrainConfig(arch="cnn", channels=SMALL,
                                 precision=precision).precision_summary()}


def test_reference_scores_equal_the_model_scores(digits_split):
    """Every integer score, not only the class: the borders (padding) and pools are exact."""
    model = train_quantized(digits_split, TrainConfig(arch="cnn", channels=SMALL, epochs=2)).model
    artifact = export_artifact(model, DIGITS_QUANTIZER, "scores")
    codes = DIGITS_QUANTIZER.quantize(digits_split.x_test)
    exact = model.double().eval()
    with torch.no_grad():
        scores = exact.integer_scores(torch.as_tensor(codes, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(reference.run(artifact, codes).scores, scores)


def test_padding_is_the_hardware_pad_value():
    binary = _trained("binary").artifact
    assert [layer.pad_value for layer in binary.layers if layer.op == "conv2d"] == [0, -1, -1]
    assert [layer.input_encoding for layer in binary.layers if layer.op == "conv2d"] == [
        uint(4), BIPOLAR, BIPOLAR]
    assert [layer.padding for layer in binary.layers if layer.op == "conv2d"] == [(1, 1, 1, 1)] * 3
    int4 = _trained("int4").artifact
    assert [layer.pad_value for layer in int4.layers if layer.op == "conv2d"] == [0, 0, 0]
    model = QuantCNN(channels=SMALL)
    assert [conv.pad for conv in model.convs] == [0, -1, -1]


def test_pad_value_of_each_encoding():
    assert [pad_value(e) for e in (uint(4), uint(1), BIPOLAR, TERNARY, sint(8))] == [0, 0, -1,
                                                                                   0, 0]


def test_the_model_pads_with_its_pad_value():
    """A bipolar layer's border sees -1: an all-(+1) kernel sums 9 inside, 3 in a corner."""
    model = QuantCNN(channels=(2, 2), precisions=layer_precisions("binary", 3))
    conv = model.convs[1]
    with torch.no_grad():
        conv.weight.fill_(0.5)
    acc = conv(torch.ones(1, 2, 8, 8))
    assert acc[0, 0, 4, 4] == 18 and acc[0, 0, 0, 0] == 8 - 10 and acc[0, 0, 0, 4] == 12 - 6


def test_accumulator_bounds_are_per_window():
    artifact = _trained("int4").artifact
    bounds = [layer.accumulator_bound for layer in artifact.layers]
    # kh * kw * in_channels * max|w| (sint4: 8) * max|x| (uint4: 15)
    assert bounds == [9 * 1 * 8 * 15, 9 * 8 * 8 * 15, None, 9 * 8 * 8 * 15, None,
                      2 * 2 * 16 * 8 * 15]


def test_training_pools_pre_activations_to_the_same_codes():
    """The quantizers are monotone, so pooling before them gives the codes pooled after."""
    torch.manual_seed(0)
    for preset in ("binary", "int4"):
        model = QuantCNN(channels=(4, 4), precisions=layer_precisions(preset, 3)).train()
        x = torch.randint(0, 16, (6, 64)).float()
        pooled_first = model.features(x)
        conv = model.convs[1]
        first = model.activations[0](model.norms[0](
            model.convs[0](x.reshape(6, 1, 8, 8)).permute(0, 2, 3, 1).reshape(-1, 4)))
        acc = conv(first.reshape(6, 8, 8, 4).permute(0, 3, 1, 2))
        codes = model.activations[1](model.norms[1](acc.permute(0, 2, 3, 1).reshape(-1, 4)))
        expected = torch.nn.functional.max_pool2d(
            codes.reshape(6, 8, 8, 4).permute(0, 3, 1, 2), 2)
        np.testing.assert_array_equal(pooled_first.detach().numpy(),
                                      expected.permute(0, 2, 3, 1).reshape(6, -1).detach().numpy())


def test_quantized_predict_and_export_walk_the_same_layers():
    torch.manual_seed(1)
    model = QuantCNN(channels=(4,), precisions=layer_precisions("mixed", 2)).eval()
    artifact = export_artifact(model, DIGITS_QUANTIZER, "one-conv")
    assert [layer.name for layer in artifact.layers] == ["conv0", "fc0"]
    assert artifact.layers[0].output.kind == "requantize"
    codes = np.random.default_rng(0).integers(0, 16, (50, 64))
    np.testing.assert_array_equal(reference.run(artifact, codes).classes,
                                  quantized_predict(model, codes))


def test_round_trip_of_a_trained_cnn(digits_split, tmp_path):
    artifact = _trained("mixed").artifact
    artifact.save(tmp_path / "a")
    loaded = load_artifact(tmp_path / "a")
    loaded.save(tmp_path / "b")
    assert (json.loads((tmp_path / "a" / "manifest.json").read_text())
            == json.loads((tmp_path / "b" / "manifest.json").read_text()))
    with np.load(tmp_path / "a" / "arrays.npz") as a, np.load(tmp_path / "b" / "arrays.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    codes = DIGITS_QUANTIZER.quantize(digits_split.x_test)
    np.testing.assert_array_equal(reference.run(loaded, codes).scores,
                                  reference.run(artifact, codes).scores)


def test_pool_plan_stops_at_one_pixel():
    assert cnn_plan((8, 8, 1), (4, 4, 4, 4, 4)) == ((False, True, True, True, False), 4)
    assert cnn_plan((8, 8, 1), (16, 16, 32)) == ((False, True, True), 128)
    assert cnn_plan((5, 5, 1), (2, 3)) == ((False, True), 12)


@pytest.mark.parametrize("kwargs, message", [
    ({"arch": "rnn"}, r"^arch must be one of mlp, cnn, not 'rnn'$"),
    ({"arch": "cnn", "channels": ()},
     r"^channels must be a non-empty tuple of positive integers, not \(\)$"),
    ({"arch": "cnn", "channels": (8, 0)},
     r"^channels must be a non-empty tuple of positive integers, not \(8, 0\)$"),
    ({"arch": "cnn", "channels": [8]},
     r"^channels must be a non-empty tuple of positive integers, not \[8\]$"),
    ({"arch": "cnn", "layer_precision": ((4, "int4"),)},
     r"^layer precision names layer 4, but the network has layers 0..3$"),
    ({"arch": "cnn", "channels": (8,), "precision": "binary", "layer_precision": ((1, "int4"),)},
     r"^layer 1: int4 weights need fixed-point inputs, but layer 0 \(binary\) outputs bipolar "
     r"activations$"),
])
def test_cnn_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_cnn_config_counts_its_layers_and_has_its_defaults():
    config = TrainConfig(arch="cnn", precision="mixed")
    assert config.precision_summary()["layers"] == ["int8", "ternary", "ternary", "int8"]
    assert (config.learning_rate, config.dropout) == (0.05, 0.2)
    assert (TrainConfig().learning_rate, TrainConfig().dropout) == (0.01, 0.1)
    assert TrainConfig(arch="cnn", learning_rate=0.01, dropout=0.0).dropout == 0.0
    assert TrainConfig(hidden=(8,), channels=(4, 4)).layers == 2


@pytest.mark.parametrize("build, message", [
    (lambda: QuantCNN(channels=()), r"^QuantCNN needs at least one convolution$"),
    (lambda: QuantCNN(channels=(4, 0)),
     r"^shapes and widths must be positive integers, not 0$"),
    (lambda: QuantCNN(in_shape=(8, 8)), r"^in_shape must be \(height, width, channels\), "
                                        r"not \(8, 8\)$"),
    (lambda: QuantCNN(channels=(4,), precisions=layer_precisions("int4", 3)),
     r"^QuantCNN needs 2 layer precisions, not 3$"),
])
def test_quant_cnn_rejects_bad_shapes(build, message):
    with pytest.raises(ValueError, match=message):
        build()
