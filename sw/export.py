"""Export a trained :class:`~.model.BinarizedMLP` to an integer-only :class:`~.artifact.Artifact`.

Batch-norm + sign becomes one integer threshold per channel. The model evaluates
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
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .artifact import Artifact, DenseLayer, InputQuantizer, ScoreOutput, ThresholdActivation
from .encoding import BIPOLAR
from .model import BinarizedMLP, ThresholdBatchNorm

__all__ = ["fold_threshold", "export_artifact", "quantized_predict"]


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


def export_artifact(model: BinarizedMLP, quantizer: InputQuantizer, name: str,
                    metadata: dict | None = None) -> Artifact:
    """Return the integer artifact of a trained model.

    Raises
    ------
    ValueError
        If the resulting artifact is invalid (an :class:`~.artifact.ArtifactError`).
    """
    layers = []
    encoding = quantizer.encoding
    last = len(model.dense) - 1
    for index, dense in enumerate(model.dense):
        weights = _float64(dense.quantized_weight()).astype(np.int64)
        name_ = f"fc{index}"
        bound = dense.in_features * encoding.max_abs
        if index < last:
            thresholds, directions = fold_threshold(model.norms[index], bound)
            output = ThresholdActivation(thresholds, directions)
        else:
            # Never clip: a clipped bias changes the argmax; out of range fails validation.
            output = ScoreOutput(np.round(_float64(model.head.bias)).astype(np.int64))
        layers.append(DenseLayer(name_, encoding, BIPOLAR, weights, output))
        encoding = BIPOLAR
    return Artifact(name=name, input=quantizer, layers=tuple(layers), metadata=metadata or {})


def quantized_predict(model: BinarizedMLP, x: np.ndarray) -> np.ndarray:
    """Return the classes the quantized model predicts for quantized inputs ``x``.

    Evaluates a float64 copy in eval mode, so the integer dot products are exact; ties in the
    integer scores go to the lowest index (``torch.argmax`` returns the first maximum).
    """
    exact = copy.deepcopy(model).to(torch.float64).eval()
    with torch.no_grad():
        scores = exact.integer_scores(torch.as_tensor(np.asarray(x), dtype=torch.float64))
    return torch.argmax(scores, dim=1).numpy().astype(np.int64)
