"""Export a trained quantized network to an integer-only :class:`~.artifact.Artifact`.

One exporter serves every :class:`~.model.QuantNet` (:class:`~.model.QuantMLP`,
:class:`~.cnn.QuantCNN`): it walks the network's :meth:`~.model.QuantNet.stages` in order, asks
each layer for its artifact layer (weight codes and geometry) and gives each matrix-vector layer
(dense or convolution) its folded output rule. Layers are named by kind, counted from 0:
``fc0, fc1...`` (dense), ``conv0...`` (convolution), ``pool0...`` (max-pool); these are the names
``--fold`` takes.

Each hidden layer's batch-norm + activation becomes the integer output rule its precision names
(:attr:`~.precision.LayerPrecision.output_rule`); the last layer's rounded bias becomes the
integer score bias.

Batch-norm + sign (binary layers) becomes one integer threshold per channel. The model evaluates
``f(a) = (a - mean) * c + beta`` with ``c = gamma / sqrt(var + eps)`` in float64 and outputs +1
when ``f(a) >= 0``. For an integer accumulator ``a`` that is, exactly:

* ``c > 0``: ``a >= t`` with ``t`` the smallest integer for which ``f(t) >= 0``;
* ``c < 0``: ``a <= u`` with ``u`` the largest such integer, stored as ``-a >= -u``;
* ``c == 0``: always (``beta >= 0``) or never.

Rather than trusting ``ceil(mean - beta / c)``, the exporter evaluates ``f`` itself, with the
same float64 operations as the model, around that estimate; because ``f`` is monotone in ``a``
this finds the exact switching point, so ties and rounding cannot make the two disagree.
Thresholds are clamped to ``[-B, B + 1]`` (``B`` the accumulator bound), where ``-B`` means
always and ``B + 1`` never.

The other precisions export the same way:

* unsigned k-bit activations (``k <= 4``) become ``2**k - 1`` thresholds per channel
  (:func:`fold_multithreshold`): ``y >= j`` exactly when ``round(f(a) / step) >= j``, a monotone
  predicate of the integer ``a`` found by bisection while evaluating the model's own float64
  formula, so ties and rounding cannot make model and artifact disagree;
* wider activations become the requantization rule the model itself evaluates
  (:meth:`~.model.QuantNet.requantize_rule`);
* weights are the quantizers' integer codes, in the encoding the quantizer names (a TTQ or
  codebook layer's encoding carries its learned integer table); their float scales are absorbed
  by the batch-norm (hidden layers) or do not change the argmax (last layer: one positive scale
  per tensor).
"""

from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np
import torch

from .artifact import (Artifact, InputQuantizer, MultiThresholdActivation, RequantizeOutput,
                       ScoreOutput, ThresholdActivation)
from .layers.dense import accumulator_bound
from .model import QuantNet, ThresholdBatchNorm
from .quantizers import UnsignedActivationQuantizer

__all__ = ["fold_threshold", "fold_multithreshold", "export_artifact", "quantized_predict"]


def _float64(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(torch.float64).cpu().numpy()


def fold_threshold(norm: ThresholdBatchNorm, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Return integer ``(thresholds, directions)`` equivalent to ``sign(norm(a))``.

    Parameters
    ----------
    norm : ThresholdBatchNorm
        The batch-norm in front of the sign, with its running statistics.
    bound : int
        The accumulator bound ``B``: every accumulator lies in ``-B .. B``.
    """
    mean = _float64(norm.running_mean)
    beta = _float64(norm.bias)
    # The model's own scale(), not numpy's: torch's float64 sqrt is not always correctly rounded,
    # and an ulp of difference moves a threshold that sits on a tie.
    scale = _float64(copy.deepcopy(norm).to(torch.float64).scale())
    thresholds = np.empty(len(mean), dtype=np.int64)
    directions = np.empty(len(mean), dtype=np.int64)
    for c in range(len(mean)):
        def fires(a: int) -> bool:
            return bool((np.float64(a) - mean[c]) * scale[c] + beta[c] >= 0)

        if scale[c] == 0:
            directions[c], thresholds[c] = 1, (-bound if beta[c] >= 0 else bound + 1)
            continue
        direction = 1 if scale[c] > 0 else -1
        with np.errstate(over="ignore"):
            estimate = np.clip(mean[c] - beta[c] / scale[c], -bound - 1, bound + 1)
        # Start inside the legal range; f is monotone, so walking to the switch point is exact.
        a = int(math.ceil(estimate) if direction > 0 else math.floor(estimate))
        step = -direction  # towards the non-firing side
        while -bound - 1 <= a + step <= bound + 1 and fires(a + step):
            a += step
        while -bound - 1 <= a <= bound + 1 and not fires(a):
            a -= step
        # a is now the extreme firing accumulator (or out of range: never fires)
        threshold = direction * a
        directions[c], thresholds[c] = direction, int(np.clip(threshold, -bound, bound + 1))
    return thresholds, directions


def fold_multithreshold(norm: ThresholdBatchNorm, activation: UnsignedActivationQuantizer,
                        bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Return integer ``(thresholds, directions)`` equivalent to ``activation(norm(a))``.

    ``thresholds`` has shape ``(channels, 2**k - 1)``; row ``c`` is non-decreasing and
    ``directions[c] * a >= thresholds[c, j - 1]`` exactly when the model outputs at least ``j``.
    """
    exact = copy.deepcopy(norm).to(torch.float64)
    mean = _float64(exact.running_mean)[:, None]
    beta = _float64(exact.bias)[:, None]
    scale = _float64(exact.scale())[:, None]
    step = _float64(copy.deepcopy(activation).to(torch.float64).step())
    levels = np.arange(1, activation.levels + 1, dtype=np.float64)[None, :]
    directions = np.where(scale[:, 0] < 0, -1, 1)
    sign = directions[:, None].astype(np.float64)

    def fires(a: np.ndarray) -> np.ndarray:
        # the model's own operations, in its order, on float64
        value = (((sign * a.astype(np.float64)) - mean) * scale + beta) / step
        return np.round(value) >= levels

    shape = (len(directions), activation.levels)
    low = np.full(shape, -bound, dtype=np.int64)
    high = np.full(shape, bound + 1, dtype=np.int64)  # bound + 1: never fires
    # fires(sign * a) is non-decreasing in a: bisect for the smallest firing a
    while np.any(low < high):
        middle = (low + high) // 2
        hit = fires(middle)
        high = np.where((low < high) & hit, middle, high)
        low = np.where((low < high) & ~hit, middle + 1, low)
    return low, directions.astype(np.int64)


def _threshold(model: QuantNet, index: int, bound: int) -> ThresholdActivation:
    return ThresholdActivation(*fold_threshold(model.norms[index], bound))


def _multithreshold(model: QuantNet, index: int, bound: int) -> MultiThresholdActivation:
    thresholds, directions = fold_multithreshold(model.norms[index], model.activations[index],
                                                 bound)
    return MultiThresholdActivation(thresholds, directions, model.precisions[index].activation)


def _requantize(model: QuantNet, index: int, bound: int) -> RequantizeOutput:
    multiplier, shift, offset = model.requantize_rule(index)
    return RequantizeOutput(multiplier, shift, offset, np.zeros_like(multiplier),
                            model.precisions[index].activation)


_HIDDEN_OUTPUTS = {ThresholdActivation: _threshold, MultiThresholdActivation: _multithreshold,
                   RequantizeOutput: _requantize}
"""Output rule of a hidden layer -> ``export(model, index, bound)`` of that rule."""


def export_artifact(model: QuantNet, quantizer: InputQuantizer, name: str,
                    metadata: dict | None = None) -> Artifact:
    """Return the integer artifact of a trained model.

    Each matrix-vector layer holds the integer codes of its weights; a hidden one's output is
    its precision's output rule, folded for the largest accumulator magnitude ``bound`` its
    inputs allow (``fan_in * max|w| * max|x|``, a convolution's fan-in being one window); the
    last one's output is the rounded score bias. A pool passes its input encoding on.

    Raises
    ------
    ValueError
        If the resulting artifact is invalid (an :class:`~.artifact.ArtifactError`).
    """
    layers = []
    encoding, shape = quantizer.encoding, tuple(model.in_shape)
    counts: Counter[str] = Counter()
    last = len(model.precisions) - 1
    for module, index in model.stages():
        layer_name = f"{module.name_prefix}{counts[module.name_prefix]}"
        counts[module.name_prefix] += 1
        if index is None:
            layer = module.to_layer(layer_name, encoding, shape)
        else:
            precision = model.precisions[index]
            weights = module.weight_encoding()  # a learned table (ttq, codebook) included
            bound = accumulator_bound(module.fan_in, encoding, weights)
            if index < last:
                output = _HIDDEN_OUTPUTS[precision.output_rule](model, index, bound)
            else:
                # Never clip: a clipped bias changes the argmax; out of range fails validation.
                output = ScoreOutput(np.round(_float64(model.head.bias)).astype(np.int64))
            layer = module.to_layer(layer_name, encoding, shape, weights, output)
        layers.append(layer)
        encoding, shape = layer.output_encoding, tuple(layer.out_shape)
    return Artifact(name=name, input=quantizer, layers=tuple(layers), metadata=metadata or {})


def quantized_predict(model: QuantNet, x: np.ndarray) -> np.ndarray:
    """Return the classes the quantized model predicts for quantized inputs ``x``.

    Evaluates a float64 copy in eval mode, so the integer dot products are exact; ties in the
    integer scores go to the lowest index (``torch.argmax`` returns the first maximum).
    """
    exact = copy.deepcopy(model).to(torch.float64).eval()
    with torch.no_grad():
        scores = exact.integer_scores(torch.as_tensor(np.asarray(x), dtype=torch.float64))
    return torch.argmax(scores, dim=1).numpy().astype(np.int64)
