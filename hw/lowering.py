"""Lowering: turn an artifact layer into the constants and shapes its hardware needs.

The artifact states each layer in mathematical terms (bipolar values, signed dot products,
thresholds on the dot product). Hardware prefers cheaper domains: an XNOR layer accumulates the
popcount ``P`` instead of ``a = 2P - K``, so its thresholds are moved into the count domain here,
once, with exact integer arithmetic:

* ``a >= t``  <=>  ``P >= ceil((t + K) / 2)``
* ``a <= u``  <=>  ``P <= floor((u + K) / 2)``

Scores of an XNOR output layer are ``2P - K + bias``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from amaranth.utils import bits_for

from ..sw.artifact import DenseLayer, ThresholdActivation
from ..sw.encoding import Encoding

__all__ = ["LoweredLayer", "lower_layer", "element_shape", "signed_shape_for"]


def element_shape(encoding: Encoding) -> Shape:
    """Return the Amaranth shape of one element in ``encoding``."""
    if encoding.kind == "bipolar":
        return unsigned(1)
    return signed(encoding.bits) if encoding.signed else unsigned(encoding.bits)


def signed_shape_for(low: int, high: int) -> Shape:
    """Return the narrowest signed shape holding every integer in ``low .. high``."""
    return signed(max(bits_for(low, require_sign_bit=True), bits_for(high, require_sign_bit=True)))


@dataclass(frozen=True)
class LoweredLayer:
    """A dense layer as the matrix-vector unit builds it.

    Attributes
    ----------
    name : str
        The artifact layer name.
    fan_in, fan_out : int
        Input and output vector lengths.
    dot : str
        ``"xnor"`` (bipolar x bipolar, accumulates popcounts) or ``"binary_weight"``
        (fixed-point x bipolar, accumulates a signed sum).
    input_shape : Shape
        Shape of one input element.
    weight_bits : numpy.ndarray
        ``(fan_out, fan_in)`` weight codes (1 = +1, 0 = -1).
    acc_shape : Shape
        Shape of the accumulator over the whole fan-in.
    bounds, flips : numpy.ndarray or None
        Per-channel threshold in the accumulator's domain and compare direction (threshold
        layers only).
    bound_shape : Shape or None
    score_offsets : numpy.ndarray or None
        Per-channel constant added to produce the score (score layers only):
        ``score = scale * acc + offset`` with ``scale`` 2 for XNOR and 1 otherwise.
    output_shape : Shape
        Shape of one output element: ``unsigned(1)`` or the signed score.
    """

    name: str
    fan_in: int
    fan_out: int
    dot: str
    input_shape: Shape
    weight_bits: np.ndarray
    acc_shape: Shape
    bounds: np.ndarray | None
    flips: np.ndarray | None
    bound_shape: Shape | None
    score_offsets: np.ndarray | None
    output_shape: Shape

    @property
    def score_scale(self) -> int:
        return 2 if self.dot == "xnor" else 1


def lower_layer(layer: DenseLayer) -> LoweredLayer:
    """Return the hardware form of an artifact layer.

    Raises
    ------
    ValueError
        If the layer's precision pair has no hardware implementation.
    """
    fan_in = layer.in_features
    if layer.weight_encoding.kind != "bipolar":
        raise ValueError(f"layer {layer.name!r}: weights {layer.weight_encoding} have no "
                         f"hardware implementation yet")
    xnor = layer.input_encoding.kind == "bipolar"
    bound = layer.accumulator_bound
    acc_shape = unsigned(bits_for(fan_in)) if xnor else signed_shape_for(-bound, bound)
    bits = (layer.weights > 0).astype(np.int64)
    bounds = flips = bound_shape = offsets = None
    if isinstance(layer.output, ThresholdActivation):
        t = layer.output.thresholds.astype(np.int64)
        flips = (layer.output.directions < 0).astype(np.int64)
        # direction -1 means -a >= t, i.e. a <= -t
        limit = np.where(flips == 1, -t, t)
        if xnor:
            bounds = np.where(flips == 1, (limit + fan_in) // 2, -((-(limit + fan_in)) // 2))
        else:
            bounds = limit
        bound_shape = signed_shape_for(int(bounds.min()), int(bounds.max()))
        output_shape = unsigned(1)
    else:
        offsets = layer.output.bias.astype(np.int64) - (fan_in if xnor else 0)
        high = bound + int(np.abs(layer.output.bias).max())
        output_shape = signed_shape_for(-high, high)
    return LoweredLayer(
        name=layer.name, fan_in=fan_in, fan_out=layer.out_features,
        dot="xnor" if xnor else "binary_weight",
        input_shape=element_shape(layer.input_encoding), weight_bits=bits, acc_shape=acc_shape,
        bounds=bounds, flips=flips, bound_shape=bound_shape, score_offsets=offsets,
        output_shape=output_shape)
