"""The quantized convolutional network trained for the digits flow (PyTorch).

Topology, from ``channels`` (default ``(16, 16, 32)``) on an 8x8x1 image::

    conv3x3 pad 1 -> [conv3x3 pad 1 -> maxpool 2x2/2] x (len(channels) - 1) -> dense -> scores
       (8x8x16)         (8x8x16 -> 4x4x16, 4x4x32 -> 2x2x32)                  (128 -> 10)

Every convolution is ``quantized conv (no bias) -> batch-norm -> activation quantizer``, then
the max-pool (every convolution but the first has one, while the image still has 2x2 pixels);
the dense layer produces the integer class scores. The precision of each matrix-vector layer
(convolutions, then the dense layer) comes from the precision table (:mod:`.precision`), as for
:class:`~.model.QuantMLP`, and the same :class:`~.model.ThresholdBatchNorm` and activation
quantizers are applied channels-last to ``(pixels, channels)``, so the exporter folds them the
same way and the evaluated model is integer-exact.

Images are channels-last and flat at the boundaries, as in the artifact: an input row is the
``(height, width, channels)`` image flattened with the channel fastest, and the dense layer reads
the last image flattened in that order. Inside, the convolutions run on ``(n, C, H, W)``.

Padding is explicit and inserts what the hardware inserts, the artifact's ``pad_value``
(:func:`pad_value`): 0 for unsigned inputs, -1 for bipolar activations (which have no zero).
Max-pooling takes the maximum of activation codes, which is the maximum of their values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .artifact import Conv2dLayer, MaxPool2dLayer
from .encoding import Encoding, uint
from .model import (QuantNet, ScoreHead, Stage, ThresholdBatchNorm, QuantDense,
                    activation_quantizer, integer_codes, weight_quantizer)
from .outputs import OutputRule
from .precision import PRECISIONS, LayerPrecision
from .quantizers import BinaryWeightQuantizer

__all__ = ["QuantConv2d", "QuantMaxPool2d", "QuantCNN", "FloatCNN", "pad_value",
           "to_images", "flatten_images", "cnn_plan"]


def pad_value(encoding: Encoding) -> int:
    """Return the value a convolution pads an input of ``encoding`` with.

    Zero where the encoding has one (unsigned inputs and activations: a neutral pad), else its
    smallest value (bipolar: -1).
    """
    return 0 if encoding.contains(np.zeros(1, dtype=np.int64)) else encoding.min


def to_images(x: torch.Tensor, in_shape: tuple[int, int, int]) -> torch.Tensor:
    """Return flat channels-last rows ``(n, H * W * C)`` as images ``(n, C, H, W)``."""
    return x.reshape(len(x), *in_shape).permute(0, 3, 1, 2)


def flatten_images(x: torch.Tensor) -> torch.Tensor:
    """Return images ``(n, C, H, W)`` as flat channels-last rows ``(n, H * W * C)``."""
    return x.permute(0, 2, 3, 1).reshape(len(x), -1)


def cnn_plan(in_shape: tuple[int, int, int],
             channels: Sequence[int]) -> tuple[tuple[bool, ...], int]:
    """Return, per convolution, whether a 2x2 stride-2 max-pool follows it, and the number of
    features the dense layer reads.

    Every convolution but the first is pooled while the (padded, same-size) image has at
    least 2x2 pixels; a pool drops an odd last row or column.
    """
    height, width = in_shape[0], in_shape[1]
    pooled = []
    for index in range(len(channels)):
        pool = index > 0 and height >= 2 and width >= 2
        if pool:
            height, width = height // 2, width // 2
        pooled.append(pool)
    return tuple(pooled), height * width * channels[-1]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """Return images ``(n, C, H, W)`` as rows ``(n * H * W, C)`` (a batch-norm's input)."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def _images(rows: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Return rows ``(n * H * W, C)`` as images ``(n, C, H, W)`` of ``size = (H, W)``."""
    return rows.reshape(-1, *size, rows.shape[1]).permute(0, 3, 1, 2)


class QuantConv2d(nn.Module):
    """Convolution without bias on ``(n, C, H, W)``, quantized weights, explicit padding.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel : int
        Square kernel size.
    padding : int
        Rows and columns of ``pad`` added on every side (stride 1).
    pad : int
        The value padding inserts (the artifact's ``pad_value``).
    weight_quant : nn.Module, optional
        The weight quantizer (binary by default).
    """

    name_prefix = "conv"
    """Exported layers are named ``conv0``, ``conv1``..."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, padding: int = 1,
                 pad: int = 0, weight_quant: nn.Module | None = None):
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kernel, kernel).uniform_(-1, 1))
        self.weight_quant = weight_quant if weight_quant is not None else BinaryWeightQuantizer()
        self.padding = padding
        self.pad = pad

    @property
    def fan_in(self) -> int:
        """Inputs of one dot product: ``kernel_h * kernel_w * in_channels``."""
        return self.weight[0].numel()

    def quantized_weight(self) -> torch.Tensor:
        """Return the weights the forward pass uses, ``(out, in, kh, kw)``."""
        return self.weight_quant(self.weight)

    def weight_encoding(self) -> Encoding:
        """Return the artifact's encoding of the weights (a learned table included)."""
        return self.weight_quant.encoding(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.padding,) * 4, value=float(self.pad))
        return F.conv2d(x, self.quantized_weight())

    def clip_latent(self) -> None:
        """Keep latent weights in [-1, 1] so their sign can still flip (BinaryConnect)."""
        with torch.no_grad():
            self.weight.clamp_(-1, 1)

    def to_layer(self, name: str, input_encoding: Encoding, in_shape: tuple[int, ...],
                 weight_encoding: Encoding, output: OutputRule) -> Conv2dLayer:
        """Return the artifact layer: channels-last weight codes ``(out, kh, kw, in)``."""
        with torch.no_grad():
            weights = integer_codes(self.quantized_weight().permute(0, 2, 3, 1))
        p = self.padding
        return Conv2dLayer(name, input_encoding, weight_encoding, tuple(in_shape), weights,
                           stride=(1, 1), padding=(p, p, p, p), pad_value=self.pad,
                           output=output)


class QuantMaxPool2d(nn.Module):
    """Max-pool of activation codes on ``(n, C, H, W)`` (square kernel, stride = kernel)."""

    name_prefix = "pool"
    """Exported layers are named ``pool0``, ``pool1``..."""

    def __init__(self, kernel: int = 2):
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.kernel, self.kernel)

    def to_layer(self, name: str, input_encoding: Encoding,
                 in_shape: tuple[int, ...]) -> MaxPool2dLayer:
        """Return the artifact layer."""
        k = self.kernel
        return MaxPool2dLayer(name, input_encoding, tuple(in_shape), (k, k), (k, k))


class QuantCNN(QuantNet):
    """CNN with a precision per matrix-vector layer (convolutions, then the dense layer).

    Parameters
    ----------
    in_shape : (int, int, int)
        Input image ``(height, width, channels)``; inputs arrive flat, channels-last.
    channels : sequence of int
        Output channels of each 3x3 convolution (at least one).
    classes : int
        Number of classes.
    precisions : sequence of LayerPrecision, optional
        One per matrix-vector layer (``len(channels) + 1``); by default every layer is binary.
    dropout : float
        Dropout in front of the dense layer, in training only.
    input_max : int
        Largest input code (the score head's initial scale depends on the value ranges).
    input_encoding : Encoding
        Encoding of the input codes (the first convolution pads with its :func:`pad_value`).

    Raises
    ------
    ValueError
        If a width or shape entry is not a positive integer, no convolution is given or the
        number of precisions is not the number of matrix-vector layers.
    """

    def __init__(self, in_shape: tuple[int, int, int] = (8, 8, 1),
                 channels: Sequence[int] = (16, 16, 32), classes: int = 10,
                 precisions: Sequence[LayerPrecision] | None = None, dropout: float = 0.0,
                 input_max: int = 15, input_encoding: Encoding = uint(4),
                 stochastic: bool = False):
        super().__init__()
        if len(channels) < 1:
            raise ValueError("QuantCNN needs at least one convolution")
        for width in (*in_shape, *channels, classes):
            if not isinstance(width, int) or isinstance(width, bool) or width < 1:
                raise ValueError(f"shapes and widths must be positive integers, not {width!r}")
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (height, width, channels), not {in_shape!r}")
        if precisions is None:
            precisions = (PRECISIONS["binary"],) * (len(channels) + 1)
        if len(precisions) != len(channels) + 1:
            raise ValueError(f"QuantCNN needs {len(channels) + 1} layer precisions, not "
                             f"{len(precisions)}")
        self.precisions = tuple(precisions)
        self.in_shape = tuple(in_shape)
        self.pooled, features = cnn_plan(self.in_shape, channels)
        inputs = [input_encoding] + [p.activation for p in precisions[:-2]]
        self.convs = nn.ModuleList(
            QuantConv2d(a, b, pad=pad_value(encoding),
                        weight_quant=weight_quantizer(p, stochastic))
            for a, b, p, encoding in zip((in_shape[2], *channels), channels, precisions,
                                         inputs))
        self.pools = nn.ModuleList(QuantMaxPool2d() if pool else nn.Identity()
                                   for pool in self.pooled)
        self.norms = nn.ModuleList(ThresholdBatchNorm(width) for width in channels)
        self.activations = nn.ModuleList(activation_quantizer(p, stochastic)
                                         for p in precisions[:-1])
        self.dropout = nn.Dropout(dropout)
        self.dense = QuantDense(features, classes, weight_quantizer(precisions[-1], stochastic))
        last_input = max(1, precisions[-2].activation.max_abs)
        self.head = ScoreHead(classes, features,
                              magnitude=max(1.0, last_input * precisions[-1].weights.max_abs / 2))

    def stages(self) -> tuple[Stage, ...]:
        """Return ``conv0, conv1, pool0, conv2, pool1, ..., fc0`` (convolution ``i`` is
        matrix-vector layer ``i``, the dense layer the last one)."""
        stages = []
        for index, (conv, pool) in enumerate(zip(self.convs, self.pools)):
            stages.append(Stage(conv, index))
            if self.pooled[index]:
                stages.append(Stage(pool, None))
        return (*stages, Stage(self.dense, len(self.convs)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last convolution's pooled activation codes, flat channels-last.

        Training pools the batch-norm outputs and quantizes the maxima: every activation
        quantizer is monotone non-decreasing, so these are the same codes as pooling the codes
        (what evaluation and the artifact do), but the gradient reaches the largest
        pre-activation of a window instead of the first of several tied codes.
        """
        x = to_images(x, self.in_shape)
        for index, (conv, pool) in enumerate(zip(self.convs, self.pools)):
            acc = conv(x)
            size = acc.shape[2:]
            if self.training:
                pooled = pool(_images(self.norms[index](_channels_last(acc)), size))
                x = _images(self.activations[index](_channels_last(pooled)), pooled.shape[2:])
            else:
                x = pool(_images(self.activate(index, _channels_last(acc)), size))
        return flatten_images(x)

    def accumulators(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.dropout(self.features(x)))


class FloatCNN(nn.Module):
    """The full-precision CNN of the same topology (bias, batch-norm, ReLU), the baseline."""

    def __init__(self, in_shape: tuple[int, int, int] = (8, 8, 1),
                 channels: Sequence[int] = (16, 16, 32), classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        self.in_shape = tuple(in_shape)
        layers: list[nn.Module] = []
        pooled, features = cnn_plan(self.in_shape, channels)
        for a, b, pool in zip((in_shape[2], *channels), channels, pooled):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
        self.convs = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(features, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = flatten_images(self.convs(to_images(x, self.in_shape)))
        return self.dense(self.dropout(features))
