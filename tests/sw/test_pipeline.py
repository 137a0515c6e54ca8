"""The binary preset through both model classes: bit-for-bit the same artifact and predictions."""

import numpy as np
import torch

from qnnforge.sw.config import TrainConfig
from qnnforge.sw.export import export_artifact, export_quant_artifact, quantized_predict
from qnnforge.sw.model import BinarizedMLP, QuantMLP
from qnnforge.sw.train import _fit, digits_input_quantizer

from .conftest import assert_same_artifact


def _trained(model_class, split, config):
    torch.manual_seed(config.seed)
    quantizer = digits_input_quantizer(config.input_bits)
    widths = (split.x_train.shape[1], config.hidden, int(split.y_train.max()) + 1)
    if model_class is BinarizedMLP:
        model = BinarizedMLP(*widths, dropout=config.dropout)
    else:
        model = QuantMLP(*widths, config.layer_precisions(), dropout=config.dropout,
                         input_max=quantizer.encoding.max)
    x = torch.as_tensor(quantizer.quantize(split.x_train), dtype=torch.float32)
    losses = _fit(model, x, torch.as_tensor(split.y_train), config, model.clip_latent, None)
    return model, quantizer, losses


def test_binary_preset_binarized_and_quant_mlp_are_bit_identical(digits_split):
    config = TrainConfig(epochs=2, hidden=(32, 16))
    binarized, quantizer, binarized_losses = _trained(BinarizedMLP, digits_split, config)
    quant, _, quant_losses = _trained(QuantMLP, digits_split, config)
    assert quant_losses == binarized_losses
    for (name, a), (other, b) in zip(binarized.state_dict().items(),
                                     quant.state_dict().items(), strict=True):
        assert name == other and torch.equal(a, b), name
    codes = quantizer.quantize(digits_split.x_test)
    np.testing.assert_array_equal(quantized_predict(quant, codes),
                                  quantized_predict(binarized, codes))
    assert_same_artifact(export_quant_artifact(quant, quantizer, "digits"),
                         export_artifact(binarized, quantizer, "digits"))
