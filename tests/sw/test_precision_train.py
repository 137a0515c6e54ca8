"""Training at every precision: the integer artifact predicts exactly what the model predicts.

Short trainings (a few epochs) per preset; the check that matters is exactness on all 360
held-out samples, plus the folding rules on every integer accumulator and the quantizers' rules.
"""

import numpy as np
import pytest
import torch

from qnnforge.sw import reference
from qnnforge.sw.artifact import (MultiThresholdActivation, RequantizeOutput,
                                  ThresholdActivation)
from qnnforge.sw.config import TrainConfig
from qnnforge.sw.encoding import TERNARY, sint, uint
from qnnforge.sw.export import export_artifact, fold_multithreshold, quantized_predict
from qnnforge.sw.fixedpoint import requantize_parameters
from qnnforge.sw.model import QuantMLP, ThresholdBatchNorm
from qnnforge.sw.precision import PRECISIONS, PRESETS, layer_precisions, parse_layer_precision
from qnnforge.sw.quantizers import (FixedPointWeightQuantizer, TernaryWeightQuantizer,
                                    UnsignedActivationQuantizer)
from qnnforge.sw.train import train_binarized, train_quantized


@pytest.mark.parametrize("precision", ["ternary", "int2", "int4", "int8", "mixed"])
def test_reference_equals_quantized_model_on_every_test_sample(precision, digits_split):
    config = TrainConfig(precision=precision, epochs=3, hidden=(64, 32))
    result = train_quantized(digits_split, config)
    codes = result.quantizer.quantize(digits_split.x_test)
    artifact = export_artifact(result.model, result.quantizer, "digits")
    assert len(codes) == 360
    np.testing.assert_array_equal(reference.run(artifact, codes).classes,
                                  quantized_predict(result.model, codes))
    assert result.quantized_accuracy > 0.8
    expected = [p.weights for p in config.layer_precisions()]
    assert [layer.weight_encoding for layer in artifact.layers] == expected


def test_mixed_precision_layers_and_output_rules(digits_split):
    config = TrainConfig(precision="mixed", epochs=1, hidden=(32, 16, 16),
                         layer_precision=((2, "int4"),))
    result = train_quantized(digits_split, config)
    artifact = export_artifact(result.model, result.quantizer, "digits")
    kinds = [type(layer.output).__name__ for layer in artifact.layers]
    assert kinds == ["RequantizeOutput", "MultiThresholdActivation", "MultiThresholdActivation",
                     "ScoreOutput"]
    assert [layer.weight_encoding for layer in artifact.layers] == [sint(8), TERNARY, sint(4),
                                                                    sint(8)]
    assert [layer.input_encoding for layer in artifact.layers] == [uint(4), uint(8), uint(2),
                                                                   uint(4)]


def test_binary_preset_is_the_binarized_flow(digits_split):
    # One model class since the fold; tests/sw/test_pipeline.py holds the bit-for-bit oracle.
    config = TrainConfig(epochs=2, hidden=(32,))
    general = train_quantized(digits_split, config)
    binary = train_binarized(digits_split, config)
    assert [p.name for p in general.model.precisions] == ["binary", "binary"]
    assert [type(a).__name__ for a in general.model.activations] == ["SignActivation"]
    codes = binary.quantizer.quantize(digits_split.x_test)
    np.testing.assert_array_equal(quantized_predict(general.model, codes),
                                  quantized_predict(binary.model, codes))
    assert general.losses == binary.losses


def test_train_binarized_refuses_other_precisions(digits_split):
    with pytest.raises(ValueError, match=r"^train_binarized needs an all-binary configuration, "
                                         r"not precision 'int4' with overrides \(\)$"):
        train_binarized(digits_split, TrainConfig(precision="int4", hidden=(8,)))


def test_output_rule_of_each_precision():
    assert [PRECISIONS[name].output_rule for name in PRECISIONS] == [
        ThresholdActivation, MultiThresholdActivation, MultiThresholdActivation,
        MultiThresholdActivation, RequantizeOutput, MultiThresholdActivation,
        *[MultiThresholdActivation] * 4]
    # ttq: unsigned 2-bit activations as ternary; codebookB: unsigned min(B, 4)-bit
    assert [PRECISIONS[name].activation.bits for name in PRECISIONS][5:] == [2, 2, 3, 4, 4]


def test_multithreshold_folding_is_exact_on_every_accumulator():
    torch.manual_seed(3)
    norm = ThresholdBatchNorm(6)
    with torch.no_grad():
        norm.running_mean.uniform_(-20, 20)
        norm.running_var.uniform_(1, 400)
        norm.weight.copy_(torch.tensor([1.5, -0.7, 0.0, 2.0, -3.0, 0.2]))
        norm.bias.uniform_(-2, 2)
    norm.eval()
    activation = UnsignedActivationQuantizer(3, step=0.25).eval()
    bound = 60
    thresholds, directions = fold_multithreshold(norm, activation, bound)
    acc = torch.arange(-bound, bound + 1, dtype=torch.float64)[:, None].repeat(1, 6)
    exact_norm = ThresholdBatchNorm(6).to(torch.float64)
    exact_norm.load_state_dict(norm.state_dict())
    exact_norm.eval()
    with torch.no_grad():
        model = activation.to(torch.float64)(exact_norm(acc)).numpy().astype(np.int64)
    folded = reference.multithreshold(acc.numpy().astype(np.int64), thresholds, directions)
    np.testing.assert_array_equal(folded, model)
    assert np.all(np.diff(thresholds, axis=1) >= 0)
    assert thresholds.min() >= -bound and thresholds.max() <= bound + 1


def test_requantize_parameters_are_normalized_and_close():
    ratio = np.array([0.003, -1.5, 7.25e-5, 0.0])
    bias = np.array([2.5, 0.3, -1.0, 3.7])
    multiplier, shift, offset = requantize_parameters(ratio, bias)
    nonzero = multiplier[:3]
    assert np.all((np.abs(nonzero) >= 1 << 14) & (np.abs(nonzero) < 1 << 15))
    np.testing.assert_allclose(multiplier[:3] / 2.0 ** shift[:3], ratio[:3], rtol=2 ** -14)
    acc = np.arange(-5000, 5000)[:, None]
    y = (acc * multiplier + offset) >> shift
    assert np.max(np.abs(y - (acc * ratio + bias))) <= 0.5 + 5000 * np.max(
        np.abs(multiplier / 2.0 ** shift - ratio))
    assert multiplier[3] == 0 and shift[3] == 0 and offset[3] == 4


def test_requantize_parameters_reject_bad_bits():
    with pytest.raises(ValueError, match=r"^multiplier bits must be an integer in 2\.\.32, "
                                         r"not 40$"):
        requantize_parameters(np.ones(1), np.zeros(1), bits=40)


def test_ternary_quantizer_follows_the_twn_rule():
    weight = torch.tensor([[0.1, -0.9, 0.5, 0.0], [2.0, 0.2, -0.2, 0.1]], requires_grad=True)
    codes = TernaryWeightQuantizer()(weight)
    # delta = 0.7 * mean|w| per row: 0.2625 and 0.4375
    assert codes.tolist() == [[0, -1, 1, 0], [1, 0, 0, 0]]
    codes.sum().backward()
    assert weight.grad.tolist() == [[1.0] * 4] * 2  # straight-through
    tensor_wise = TernaryWeightQuantizer(per_channel=False)(weight)
    assert tensor_wise.tolist() == [[0, -1, 1, 0], [1, 0, 0, 0]]
    alpha = TernaryWeightQuantizer().scale(weight)
    np.testing.assert_allclose(alpha.detach().numpy().ravel(), [0.7, 2.0])


def test_fixed_point_quantizer_ranges_and_power_of_two_scale():
    weight = torch.tensor([[0.3, -1.0, 0.52], [0.01, 0.02, -0.04]])
    codes = FixedPointWeightQuantizer(4)(weight)
    assert codes.abs().max() <= 7 and codes[0, 1] == -7 and codes[1, 2] == -7
    pow2 = FixedPointWeightQuantizer(4, power_of_two=True)
    scale = pow2.scale(weight).ravel()
    assert torch.all(torch.log2(scale) == torch.round(torch.log2(scale)))
    unsigned = FixedPointWeightQuantizer(3, signed=False)(weight.abs())
    assert unsigned.min() >= 0 and unsigned.max() == 7
    half = FixedPointWeightQuantizer(2, per_channel=False)
    assert half(torch.tensor([[0.5, 1.0, -1.0]])).tolist() == [[0, 1, -1]]  # 0.5 -> 0 (even)


def test_stochastic_rounding_only_in_training_and_unbiased():
    torch.manual_seed(0)
    quantizer = FixedPointWeightQuantizer(8, per_channel=False, stochastic=True)
    weight = torch.full((1, 20000), 0.25)
    weight[0, 0] = 127.0  # scale 1: codes are round(0.25) or a stochastic 0/1
    mean = quantizer.train()(weight)[0, 1:].mean().item()
    assert 0.23 < mean < 0.27
    assert quantizer.eval()(weight)[0, 1:].abs().max().item() == 0


def test_unsigned_activation_clamps_and_rounds_half_to_even():
    activation = UnsignedActivationQuantizer(2, step=1.0, learned=False).eval()
    out = activation(torch.tensor([-3.0, 0.5, 1.5, 2.5, 9.0]))
    assert out.tolist() == [0, 0, 2, 2, 3]
    assert not list(activation.parameters())


@pytest.mark.parametrize("call, message", [
    (lambda: layer_precisions("int3", 3), r"^precision must be one of binary, ternary, int2, "
                                          r"int4, int8, ttq, codebook2, codebook3, codebook4, "
                                          r"codebook5, mixed, not 'int3'$"),
    (lambda: layer_precisions("mixed", 3, {3: "int4"}),
     r"^layer precision names layer 3, but the network has layers 0\.\.2$"),
    (lambda: layer_precisions("binary", 3, {1: "int4"}),
     r"^layer 1: int4 weights need fixed-point inputs, but layer 0 \(binary\) outputs bipolar "
     r"activations$"),
    (lambda: layer_precisions("int4", 3, {0: "fp8"}),
     r"^layer 0 precision must be one of binary, ternary, int2, int4, int8, ttq, codebook2, "
     r"codebook3, codebook4, codebook5, not 'fp8'$"),
    (lambda: parse_layer_precision(["1:int4"]),
     r"^layer precision must look like LAYER=PRECISION \(e\.g\. 1=ternary\), not '1:int4'$"),
    (lambda: parse_layer_precision(["1=int4", "1=int8"]),
     r"^precision for layer 1 is given twice$"),
    (lambda: FixedPointWeightQuantizer(1), r"^weight bits must be an integer in 2\.\.16, not 1$"),
    (lambda: UnsignedActivationQuantizer(0),
     r"^activation bits must be an integer in 1\.\.16, not 0$"),
    (lambda: TernaryWeightQuantizer(threshold=2.5),
     r"^ternary threshold must lie in \(0, 2\), not 2\.5$"),
    (lambda: QuantMLP(4, (3,), 2, layer_precisions("int4", 3)),
     r"^QuantMLP needs 2 layer precisions, not 3$"),
])
def test_precision_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_presets_are_listed_without_torch():
    assert list(PRESETS) == ["binary", "ternary", "int2", "int4", "int8", "ttq", "codebook2",
                            "codebook3", "codebook4", "codebook5", "mixed"]
    assert [p.name for p in layer_precisions("mixed", 4)] == ["int8", "ternary", "ternary",
                                                              "int8"]


@pytest.mark.parametrize("arch, kwargs", [("mlp", {"hidden": (16, 8)}),
                                          ("cnn", {"channels": (4, 4)})])
def test_rounding_option_reaches_every_fixed_point_quantizer(arch, kwargs, digits_split):
    from qnnforge.sw.train import _QUANTIZED, digits_input_quantizer

    for rounding, expected in (("nearest", False), ("stochastic", True)):
        config = TrainConfig(arch=arch, precision="int4", rounding=rounding, **kwargs)
        model = _QUANTIZED[arch](config, digits_input_quantizer(), 64, 10)
        quantizers = [m for m in model.modules()
                      if isinstance(m, (FixedPointWeightQuantizer, UnsignedActivationQuantizer))]
        assert len(quantizers) == 2 * config.layers - 1  # every weight, every hidden activation
        assert {q.stochastic for q in quantizers} == {expected}


def test_stochastic_training_still_exports_exactly(digits_split):
    config = TrainConfig(precision="int2", rounding="stochastic", epochs=3, hidden=(32, 16))
    result = train_quantized(digits_split, config)
    codes = result.quantizer.quantize(digits_split.x_test)
    artifact = export_artifact(result.model, result.quantizer, "digits")
    np.testing.assert_array_equal(reference.run(artifact, codes).classes,
                                  quantized_predict(result.model, codes))
    assert result.quantized_accuracy > 0.3  # learns (chance is 0.1) despite the noise
