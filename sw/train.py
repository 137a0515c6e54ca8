"""Quantization-aware training of the digits MLP or CNN, plus a float baseline (PyTorch).

``config.arch`` picks the network: :class:`~.model.QuantMLP` or :class:`~.cnn.QuantCNN` (the
digits' 64 features are an 8x8x1 image, channels-last), and the float baseline of the same
widths or topology.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .artifact import InputQuantizer
from .cnn import FloatCNN, QuantCNN
from .data import DIGITS_RAW_MAX, DigitsSplit
from .encoding import uint
from .export import quantized_predict
from .config import TrainConfig
from .model import QuantMLP, QuantNet

__all__ = ["TrainConfig", "TrainResult", "digits_input_quantizer", "train_model",
           "train_quantized", "quantized_model", "train_binarized", "train_float_baseline"]

Progress = Callable[[int, int, float], None]
"""Called as ``progress(epoch, epochs, loss)`` after every epoch."""

DIGITS_IMAGE = (8, 8, 1)
"""The digits' 64 features as a channels-last image (they are already in that order)."""


def digits_input_quantizer(bits: int = 4) -> InputQuantizer:
    """Return the exact rule from ``load_digits`` pixels (0..16) to ``bits``-bit inputs.

    The scale ``(2**bits - 1) / 16`` maps 0..16 onto the full code range; it is expressed as
    ``multiplier / 2**shift`` with ``shift = 4`` (16 = 2**4), so rounding is exact.

    Raises
    ------
    ValueError
        If ``bits`` is not in 1..8.
    """
    if not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f"input bits must be an integer in 1..8, not {bits!r}")
    return InputQuantizer(encoding=uint(bits), raw_min=0, raw_max=DIGITS_RAW_MAX,
                          multiplier=(1 << bits) - 1, shift=4)


@dataclass
class TrainResult:
    """A trained model with its input rule and the accuracies measured on the test split."""

    model: QuantNet
    quantizer: InputQuantizer
    quantized_accuracy: float
    losses: list[float] = field(default_factory=list)


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
         after_step: Callable[[int, int], None] | None,
         progress: Progress | None) -> list[float]:
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    steps = config.epochs * math.ceil(len(x) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate,
                                                   total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    step = 0
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), config.batch_size):
            batch = order[start:start + config.batch_size]
            if len(batch) < 2:
                continue  # batch-norm needs two samples
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if after_step is not None:
                after_step(step, steps)
            total += loss.item() * len(batch)
        losses.append(total / len(x))
        if progress is not None:
            progress(epoch + 1, config.epochs, losses[-1])
    model.eval()
    return losses


def train_model(model: QuantNet, quantizer: InputQuantizer, split: DigitsSplit,
                config: TrainConfig = TrainConfig(),
                progress: Progress | None = None) -> TrainResult:
    """Train ``model`` on the training split quantized by ``quantizer``; measure the test split.

    The model sees inputs already quantized, so its first layer is exactly the fixed-point
    product the hardware computes. Batches follow ``config.seed``; seed torch before building
    the model for a reproducible initialization.
    """
    x_train = torch.as_tensor(quantizer.quantize(split.x_train), dtype=torch.float32)
    y_train = torch.as_tensor(split.y_train)
    losses = _fit(model, x_train, y_train, config, model.after_step, progress)
    predicted = quantized_predict(model, quantizer.quantize(split.x_test))
    accuracy = float(np.mean(predicted == split.y_test))
    return TrainResult(model, quantizer, accuracy, losses)


def _quant_mlp(config: TrainConfig, quantizer: InputQuantizer, features: int,
               classes: int) -> QuantMLP:
    return QuantMLP(features, config.hidden, classes, config.layer_precisions(),
                    dropout=config.dropout, input_max=quantizer.encoding.max,
                    stochastic=config.stochastic)


def _quant_cnn(config: TrainConfig, quantizer: InputQuantizer, features: int,
               classes: int) -> QuantCNN:
    if features != int(np.prod(DIGITS_IMAGE)):
        raise ValueError(f"the CNN reads {DIGITS_IMAGE} images, not {features} features")
    return QuantCNN(DIGITS_IMAGE, config.channels, classes, config.layer_precisions(),
                    dropout=config.dropout, input_max=quantizer.encoding.max,
                    input_encoding=quantizer.encoding, stochastic=config.stochastic)


def _float_mlp(config: TrainConfig, features: int, classes: int) -> nn.Module:
    widths: Sequence[int] = (features, *config.hidden)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(), nn.Dropout(config.dropout)]
    return nn.Sequential(*layers, nn.Linear(widths[-1], classes))


def _float_cnn(config: TrainConfig, features: int, classes: int) -> nn.Module:
    return FloatCNN(DIGITS_IMAGE, config.channels, classes, dropout=config.dropout)


_QUANTIZED = {"mlp": _quant_mlp, "cnn": _quant_cnn}
"""``config.arch`` -> ``build(config, quantizer, features, classes)`` of the quantized model."""
_FLOAT = {"mlp": _float_mlp, "cnn": _float_cnn}
"""``config.arch`` -> ``build(config, features, classes)`` of the float baseline."""


def train_quantized(split: DigitsSplit, config: TrainConfig = TrainConfig(),
                    progress: Progress | None = None) -> TrainResult:
    """Train the network of ``config`` (MLP or CNN, a precision per layer); measure it on the
    test split.

    The inputs are quantized by :func:`digits_input_quantizer` of ``config.input_bits``.
    """
    model, quantizer = quantized_model(config, split.x_train.shape[1],
                                       int(split.y_train.max()) + 1)
    return train_model(model, quantizer, split, config, progress)


def quantized_model(config: TrainConfig, features: int = 64,
                    classes: int = 10) -> tuple[QuantNet, InputQuantizer]:
    """Return the untrained network of ``config`` and its input rule; torch is seeded with
    ``config.seed`` first, so the initialization is reproducible."""
    torch.manual_seed(config.seed)
    quantizer = digits_input_quantizer(config.input_bits)
    return _QUANTIZED[config.arch](config, quantizer, features, classes), quantizer


def train_binarized(split: DigitsSplit, config: TrainConfig = TrainConfig(),
                    progress: Progress | None = None) -> TrainResult:
    """Train the all-binary configuration ``config``: :func:`train_quantized`, checked binary.

    Raises
    ------
    ValueError
        If a layer of ``config`` is not binary.
    """
    if not config.all_binary:
        raise ValueError(f"train_binarized needs an all-binary configuration, not precision "
                         f"{config.precision!r} with overrides {config.layer_precision!r}")
    return train_quantized(split, config, progress)


def train_float_baseline(split: DigitsSplit, config: TrainConfig = TrainConfig(),
                         progress: Progress | None = None) -> float:
    """Train a full-precision network of the same widths or topology (ReLU, batch-norm); return
    its test accuracy."""
    torch.manual_seed(config.seed)
    model = _FLOAT[config.arch](config, split.x_train.shape[1], int(split.y_train.max()) + 1)
    x_train = torch.as_tensor(split.x_train / DIGITS_RAW_MAX, dtype=torch.float32)
    _fit(model, x_train, torch.as_tensor(split.y_train), config, None, progress)
    with torch.no_grad():
        logits = model(torch.as_tensor(split.x_test / DIGITS_RAW_MAX, dtype=torch.float32))
    return float(np.mean(logits.argmax(1).numpy() == split.y_test))
