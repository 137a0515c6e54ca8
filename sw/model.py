"""The quantized multilayer perceptron trained for the digits flow, and its parts (PyTorch).

Topology: fixed-point input (``uint`` k-bit) -> [quantized dense -> batch-norm -> activation] x
hidden layers -> quantized dense -> integer scores, with a precision per layer
(:mod:`.precision`). The default, every layer binary, is the binarized MLP: binary-weight dense
-> batch-norm -> sign, then binary dense layers. Every dense layer computes an exact integer dot
product; batch-norm + activation pairs become integer thresholds or requantization rules at
export and the last layer's bias is rounded to an integer in training, so the evaluated model is
integer-exact (see :mod:`.export`).

:class:`QuantNet` is what every quantized network of the flow shares (this MLP and the CNN of
:mod:`.cnn`): a precision, a batch-norm and an activation per hidden matrix-vector layer, the
integer-exact evaluation of requantized layers, the score head, and :meth:`QuantNet.stages`, the
list of layers the exporter walks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .artifact import DenseLayer, RequantizeOutput
from .encoding import BIPOLAR, TERNARY, Encoding
from .outputs import OutputRule
from .fixedpoint import requantize_parameters
from .precision import PRECISIONS, LayerPrecision
from .precision import CODEBOOK_VALUE_BITS, TTQ_SCALE_BITS
from .quantizers import (BinaryWeightQuantizer, CodebookWeightQuantizer,
                         FixedPointWeightQuantizer, SignActivation, TernaryWeightQuantizer,
                         TTQWeightQuantizer, UnsignedActivationQuantizer, round_ste)

__all__ = ["QuantDense", "ThresholdBatchNorm", "ScoreHead", "Stage", "QuantNet", "QuantMLP",
           "weight_quantizer", "activation_quantizer", "integer_codes"]


def integer_codes(tensor: torch.Tensor) -> np.ndarray:
    """Return a tensor of integer-valued codes as an ``int64`` array (rounded in float64)."""
    return np.round(tensor.detach().to(torch.float64).cpu().numpy()).astype(np.int64)


class QuantDense(nn.Module):
    """Dense layer without bias whose weights pass through a weight quantizer."""

    name_prefix = "fc"
    """Exported layers are named ``fc0``, ``fc1``..."""

    def __init__(self, in_features: int, out_features: int, weight_quant: nn.Module | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-1, 1))
        self.weight_quant = weight_quant if weight_quant is not None else BinaryWeightQuantizer()

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def fan_in(self) -> int:
        """Inputs of one dot product."""
        return self.in_features

    def quantized_weight(self) -> torch.Tensor:
        """Return the weights the forward pass uses (the artifact's integers)."""
        return self.weight_quant(self.weight)

    def weight_encoding(self) -> Encoding:
        """Return the artifact's encoding of the weights (a learned table included)."""
        return self.weight_quant.encoding(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight())

    def clip_latent(self) -> None:
        """Keep latent weights in [-1, 1] so their sign can still flip (BinaryConnect)."""
        with torch.no_grad():
            self.weight.clamp_(-1, 1)

    def to_layer(self, name: str, input_encoding: Encoding, in_shape: tuple[int, ...],
                 weight_encoding: Encoding, output: OutputRule) -> DenseLayer:
        """Return the artifact layer: the weight codes and ``output`` (reads any ``in_shape``
        flattened, channels-last)."""
        with torch.no_grad():
            weights = integer_codes(self.quantized_weight())
        return DenseLayer(name, input_encoding, weight_encoding, weights, output)


class ThresholdBatchNorm(nn.BatchNorm1d):
    """Batch-norm that precedes a sign, evaluated by one explicit formula.

    In evaluation it computes ``(a - mean) * (gamma / sqrt(var + eps)) + beta``, the formula the
    exporter replays in float64 to find each integer threshold, so threshold and model agree on
    every integer accumulator, ties included.
    """

    def scale(self) -> torch.Tensor:
        """Return ``gamma / sqrt(var + eps)`` as used in evaluation."""
        return self.weight / torch.sqrt(self.running_var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return super().forward(x)
        return (x - self.running_mean) * self.scale() + self.bias


class ScoreHead(nn.Module):
    """Integer class scores ``acc + round(bias)`` and float logits ``exp(log_scale) * scores``.

    The positive scale only sharpens the softmax in training; it never changes the argmax, so it
    is not exported.
    """

    def __init__(self, classes: int, fan_in: int, magnitude: float = 1.0):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(classes))
        self.log_scale = nn.Parameter(torch.tensor(-0.5 * float(torch.tensor(fan_in).log())
                                                   - float(torch.tensor(magnitude).log())))

    def integer_scores(self, acc: torch.Tensor) -> torch.Tensor:
        return acc + round_ste(self.bias)

    def forward(self, acc: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp() * self.integer_scores(acc)


def weight_quantizer(precision: LayerPrecision, stochastic: bool = False) -> nn.Module:
    """Return the weight quantizer of a layer precision.

    ``stochastic`` makes fixed-point weights round stochastically in training; bipolar,
    ternary, TTQ and codebook weights have no rounding to make stochastic.
    """
    encoding = precision.weights
    if encoding == BIPOLAR:
        return BinaryWeightQuantizer()
    if encoding == TERNARY:
        return TernaryWeightQuantizer()
    if encoding.kind == "ttq":
        return TTQWeightQuantizer(scale_bits=TTQ_SCALE_BITS)
    if encoding.kind == "codebook":
        return CodebookWeightQuantizer(encoding.bits, value_bits=CODEBOOK_VALUE_BITS)
    return FixedPointWeightQuantizer(encoding.bits, signed=encoding.signed, stochastic=stochastic)


def activation_quantizer(precision: LayerPrecision, stochastic: bool = False) -> nn.Module:
    """Return the activation quantizer of a hidden layer's precision (``stochastic``: unsigned
    activations round stochastically in training)."""
    if precision.activation == BIPOLAR:
        return SignActivation()
    return UnsignedActivationQuantizer(precision.activation.bits, stochastic=stochastic)


class Stage(NamedTuple):
    """One layer of a network as the exporter sees it.

    Attributes
    ----------
    module : nn.Module
        The layer; it has ``name_prefix`` and ``to_layer(name, input_encoding, in_shape, ...)``
        returning the artifact layer; a matrix-vector layer also has ``fan_in``.
    index : int or None
        The matrix-vector layer's index into the precisions (the ``LAYER`` of
        ``--layer-precision``), or None for a layer without weights (a pool).
    """

    module: nn.Module
    index: int | None


class QuantNet(nn.Module, ABC):
    """The part every quantized network of the flow shares; subclasses build the layers.

    A subclass sets ``precisions`` (one per matrix-vector layer), ``norms`` and ``activations``
    (one per hidden matrix-vector layer), ``head`` (:class:`ScoreHead`) and ``in_shape`` (one
    input, flattened channels-last), and implements :meth:`stages` and :meth:`accumulators`.
    """

    precisions: tuple[LayerPrecision, ...]
    in_shape: tuple[int, ...]

    @abstractmethod
    def stages(self) -> tuple[Stage, ...]:
        """Return the layers in artifact order."""

    @abstractmethod
    def accumulators(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last layer's integer accumulators for input codes ``x`` (n, features)."""

    def requantize_rule(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the integer ``(multiplier, shift, offset)`` of hidden layer ``index``.

        ``y = round(f(acc) / step)`` with ``f(a) = (a - mean) * c + beta`` is
        ``round(acc * ratio + bias)`` with ``ratio = c / step`` and
        ``bias = (beta - mean * c) / step``, both computed in float64.
        """
        norm, activation = self.norms[index], self.activations[index]
        with torch.no_grad():
            c = (norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps))
            step = activation.step().double()
            ratio = (c / step).cpu().numpy()
            bias = ((norm.bias.double() - norm.running_mean.double() * c) / step).cpu().numpy()
        return requantize_parameters(ratio, bias)

    def _requantized(self, index: int, acc: torch.Tensor) -> torch.Tensor:
        multiplier, shift, offset = (torch.as_tensor(a) for a in self.requantize_rule(index))
        integer = torch.round(acc.detach()).to(torch.int64)
        y = torch.bitwise_right_shift(integer * multiplier + offset, shift)
        levels = self.activations[index].levels
        return torch.clamp(y, 0, levels).to(acc.dtype)

    def activate(self, index: int, acc: torch.Tensor) -> torch.Tensor:
        """Return hidden layer ``index``'s activation codes for accumulators ``(n, channels)``.

        In evaluation a requantized layer computes the exported integer rule itself.
        """
        if not self.training and self.precisions[index].output_rule is RequantizeOutput:
            return self._requantized(index, acc)
        return self.activations[index](self.norms[index](acc))

    def integer_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Return the integer class scores (as a float tensor)."""
        return self.head.integer_scores(self.accumulators(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.accumulators(x))

    def clip_latent(self) -> None:
        """Keep binary layers' latent weights in [-1, 1] (the others scale with their max)."""
        for (module, index) in self.stages():
            if index is not None and self.precisions[index].weights == BIPOLAR:
                module.clip_latent()

    def after_step(self, step: int, steps: int) -> None:
        """Called after optimizer step ``step`` (1-based) of ``steps``: clip the latent weights
        (:meth:`clip_latent`) and, after half of the steps, cluster every codebook layer's
        weights (Deep Compression: train, cluster, then fine-tune the centroids)."""
        self.clip_latent()
        if step == max(1, steps // 2):
            for (module, index) in self.stages():
                quantizer = getattr(module, "weight_quant", None)
                if isinstance(quantizer, CodebookWeightQuantizer):
                    quantizer.cluster(module.weight)


class QuantMLP(QuantNet):
    """MLP with a precision per layer: binary, ternary or fixed-point weights and activations.

    Each hidden layer is ``quantized dense -> batch-norm -> activation quantizer``; the last is
    ``quantized dense -> integer scores``. Dense layers multiply integer codes, so accumulators
    are exact integers. In evaluation, hidden layers whose activation is requantized
    (``precision.output_rule`` is :class:`~.artifact.RequantizeOutput`) compute the exported rule
    ``clamp(((acc * M + offset) >> s), 0, 2**k - 1)`` itself (:meth:`requantize_rule`), so the
    model and the integer artifact agree exactly; the other activations are replayed exactly by
    the exporter's threshold search.

    Parameters
    ----------
    in_features : int
        Number of input features.
    hidden : sequence of int
        Widths of the hidden layers (at least one).
    classes : int
        Number of classes.
    precisions : sequence of LayerPrecision, optional
        One per dense layer (``len(hidden) + 1``); by default every layer is binary.
    dropout : float
        Dropout before each hidden layer but the first, in training only.
    input_max : int
        Largest input code (the score head's initial scale depends on the value ranges).

    Raises
    ------
    ValueError
        If a width is not a positive integer, no hidden layer is given or the number of
        precisions is not the number of layers.
    """

    def __init__(self, in_features: int = 64, hidden: Sequence[int] = (128, 128),
                 classes: int = 10, precisions: Sequence[LayerPrecision] | None = None,
                 dropout: float = 0.0, input_max: int = 15, stochastic: bool = False):
        super().__init__()
        widths = [in_features, *hidden, classes]
        if len(hidden) < 1:
            raise ValueError("QuantMLP needs at least one hidden layer")
        for width in widths:
            if not isinstance(width, int) or width < 1:
                raise ValueError(f"layer widths must be positive integers, not {width!r}")
        if precisions is None:
            precisions = (PRECISIONS["binary"],) * (len(widths) - 1)
        if len(precisions) != len(widths) - 1:
            raise ValueError(f"QuantMLP needs {len(widths) - 1} layer precisions, not "
                             f"{len(precisions)}")
        self.precisions = tuple(precisions)
        self.in_shape = (in_features,)
        self.dense = nn.ModuleList(QuantDense(a, b, weight_quantizer(p, stochastic)) for a, b, p in
                                   zip(widths[:-1], widths[1:], precisions))
        self.norms = nn.ModuleList(ThresholdBatchNorm(width) for width in hidden)
        self.activations = nn.ModuleList(activation_quantizer(p, stochastic)
                                         for p in precisions[:-1])
        self.dropout = nn.Dropout(dropout)
        last_input = (input_max if len(precisions) == 1
                      else max(1, precisions[-2].activation.max_abs))
        self.head = ScoreHead(classes, widths[-2],
                              magnitude=max(1.0, last_input * precisions[-1].weights.max_abs / 2))

    def stages(self) -> tuple[Stage, ...]:
        """Return the dense layers ``fc0``, ``fc1``... (matrix-vector layers 0, 1...)."""
        return tuple(Stage(dense, index) for index, dense in enumerate(self.dense))

    def hidden_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last hidden layer's activation codes."""
        for index, dense in enumerate(self.dense[:-1]):
            if index:
                x = self.dropout(x)
            x = self.activate(index, dense(x))
        return x

    def accumulators(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense[-1](self.hidden_forward(x))
