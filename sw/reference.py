"""The pure-integer reference model: the definition of what the hardware must compute.

Everything here is numpy on ``int64`` and reads nothing but an :class:`~.artifact.Artifact`.
Each function mirrors one hardware block so a reader can check them against each other:
``windows`` is the sliding-window unit, ``conv2d`` the sliding-window unit feeding the
matrix-vector unit, ``maxpool2d`` the sliding-window unit feeding the window-max unit,
``dense`` is the matrix-vector unit's accumulation, ``threshold`` the threshold unit,
``multithreshold`` the multi-threshold unit, ``requantize`` the requantizer, ``scores`` the score
stage, ``argmax`` the argmax stage. Each layer kind's ``forward`` and each output rule's ``apply``
(:mod:`.layers`, :mod:`.outputs`) call these functions, so they are the whole arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the artifact's layers and rules call this module; it only reads them
    from .artifact import Artifact
    from .layers import Layer
    from .outputs import RequantizeOutput

__all__ = ["output_size", "windows", "conv2d", "maxpool2d", "dense", "threshold",
           "multithreshold", "requantize", "scores", "argmax",
           "layer_forward", "Trace", "run", "predict"]


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Return the windows along one axis: ``(size + pads - kernel) // stride + 1``."""
    return (size + pad_before + pad_after - kernel) // stride + 1


def windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int, int, int] = (0, 0, 0, 0), pad_value: int = 0) -> np.ndarray:
    """Return every window of a batch of channels-last images, in the sliding-window unit's order.

    Parameters
    ----------
    x : numpy.ndarray
        Images of shape ``(n, height, width, channels)``.
    kernel, stride : (int, int)
        Window height and width; vertical and horizontal step.
    padding : (top, left, bottom, right)
        Rows and columns of ``pad_value`` added around each image.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, out_height, out_width, kernel_h, kernel_w, channels)``: window ``(oy, ox)``
        holds padded-image pixels ``(oy * stride_h + ky, ox * stride_w + kx)``. Flattened, the
        last three axes are the order the unit emits a window in (channel fastest, then kernel
        column, then kernel row) and the order of a convolution's weights.
    """
    x = np.asarray(x, dtype=np.int64)
    top, left, bottom, right = padding
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)),
                    constant_values=pad_value)
    kh, kw = kernel
    sh, sw = stride
    oh = output_size(x.shape[1], kh, sh, top, bottom)
    ow = output_size(x.shape[2], kw, sw, left, right)
    out = np.empty((x.shape[0], oh, ow, kh, kw, x.shape[3]), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            out[:, oy, ox] = padded[:, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :]
    return out


def conv2d(x: np.ndarray, weights: np.ndarray, stride: tuple[int, int],
           padding: tuple[int, int, int, int], pad_value: int) -> np.ndarray:
    """Return the accumulators of a convolution, shape ``(n, out_height, out_width, out_ch)``.

    ``x`` is ``(n, height, width, in_ch)`` and ``weights`` ``(out_ch, kernel_h, kernel_w, in_ch)``;
    each window (:func:`windows`) is one input vector of the matrix-vector unit, whose matrix is
    the weights flattened to ``(out_ch, kernel_h * kernel_w * in_ch)``.
    """
    weights = np.asarray(weights, dtype=np.int64)
    patches = windows(x, weights.shape[1:3], stride, padding, pad_value)
    n, oh, ow = patches.shape[:3]
    return dense(patches.reshape(n * oh * ow, -1),
                 weights.reshape(len(weights), -1)).reshape(n, oh, ow, len(weights))


def maxpool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Return the per-channel maximum of every window (no padding), ``(n, oh, ow, channels)``.

    The maximum is taken over values, so over codes in the order of their values: for bipolar
    codes (0 is -1, 1 is +1) it is the OR of the codes.
    """
    return windows(x, kernel, stride).max(axis=(3, 4))


def dense(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the integer accumulators ``x @ weights.T`` for a batch ``x`` of shape (n, fan_in)."""
    return np.asarray(x, dtype=np.int64) @ np.asarray(weights, dtype=np.int64).T


def threshold(acc: np.ndarray, thresholds: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Return the bipolar activations ``+1 if direction * acc >= threshold else -1``."""
    return np.where(directions * acc >= thresholds, 1, -1).astype(np.int64)


def multithreshold(acc: np.ndarray, thresholds: np.ndarray,
                   directions: np.ndarray) -> np.ndarray:
    """Return ``#{l : direction * acc >= thresholds[:, l]}`` per channel (unsigned k-bit)."""
    signed_acc = (directions * np.asarray(acc, dtype=np.int64))[..., None]
    return np.sum(signed_acc >= thresholds, axis=-1).astype(np.int64)


def requantize(acc: np.ndarray, output: RequantizeOutput) -> np.ndarray:
    """Return ``clamp(((acc * multiplier + offset) >> shift) + zero_point)`` per channel.

    ``>>`` is numpy's arithmetic shift, which floors like the hardware's; the validated
    artifact keeps ``acc * multiplier + offset`` inside int64.
    """
    product = np.asarray(acc, dtype=np.int64) * output.multiplier + output.offset
    y = (product >> output.shift) + output.zero_point
    return np.clip(y, output.encoding.min, output.encoding.max).astype(np.int64)


def scores(acc: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Return the class scores ``acc + bias`` per channel."""
    return np.asarray(acc, dtype=np.int64) + bias


def argmax(scores: np.ndarray) -> np.ndarray:
    """Return the class of each row of ``scores``; ties go to the lowest index."""
    return np.argmax(scores, axis=-1).astype(np.int64)


def layer_forward(layer: Layer, x: np.ndarray) -> np.ndarray:
    """Return a layer's outputs (activations or scores) for a batch of its inputs."""
    return layer.forward(x)


@dataclass(frozen=True)
class Trace:
    """Everything the reference computes for a batch.

    Attributes
    ----------
    inputs : numpy.ndarray
        The quantized network inputs, shape (n, in_features).
    outputs : tuple of numpy.ndarray
        Each layer's outputs in order; the last one holds the class scores.
    classes : numpy.ndarray
        The predicted class of each sample.
    """

    inputs: np.ndarray
    outputs: tuple[np.ndarray, ...]
    classes: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        return self.outputs[-1]


def run(artifact: Artifact, x: np.ndarray) -> Trace:
    """Run the network on already quantized inputs ``x`` of shape (n, in_features).

    Raises
    ------
    ValueError
        If ``x`` has the wrong shape or holds values the input encoding does not allow.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != artifact.in_features:
        raise ValueError(f"inputs must have shape (n, {artifact.in_features}), not {x.shape}")
    if x.dtype.kind not in "iu" or not artifact.input.encoding.contains(x):
        raise ValueError(f"inputs must be {artifact.input.encoding} integers")
    outputs = []
    activations = x.astype(np.int64)
    for layer in artifact.layers:
        activations = layer_forward(layer, activations)
        outputs.append(activations)
    return Trace(inputs=x.astype(np.int64), outputs=tuple(outputs), classes=argmax(activations))


def predict(artifact: Artifact, raw: np.ndarray) -> np.ndarray:
    """Return the classes for raw integer features (quantized with the artifact's input rule)."""
    return run(artifact, artifact.input.quantize(raw)).classes
