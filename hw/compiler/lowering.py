"""Lowering: turn an artifact layer into the constants and shapes its hardware needs.

The artifact states each layer in mathematical terms (bipolar values, signed dot products,
thresholds on the dot product). Hardware prefers cheaper domains: an XNOR layer accumulates the
popcount ``P`` instead of ``a = 2P - K``, so its thresholds (single or multi-level) are moved
into the count domain here, once, with exact integer arithmetic:

* ``a >= t``  <=>  ``P >= ceil((t + K) / 2)``
* ``a <= u``  <=>  ``P <= floor((u + K) / 2)``

Scores of an XNOR output layer are ``2P - K + bias``; a requantized XNOR layer feeds
``2P - K`` to its requantizer. Every other dot kind accumulates the signed dot product itself:

* ``binary_weight``: fixed-point x bipolar weights (add or subtract per lane);
* ``ternary``: fixed-point x ternary weights (add, subtract or skip per lane);
* ``fixed``: fixed-point x fixed-point weights (a multiplier per lane).

Non-XNOR layers need a fixed-point (``uint``/``int``) input, whose code 0 is the value 0: the
padding lanes of a folded layer hold code 0 and so contribute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from amaranth.utils import bits_for

from ...sw.artifact import (DenseLayer, MultiThresholdActivation, RequantizeOutput,
                           ThresholdActivation)
from ...sw.encoding import Encoding

__all__ = ["LoweredLayer", "lower_layer", "element_shape", "signed_shape_for"]


def element_shape(encoding: Encoding) -> Shape:
    """Return the Amaranth shape of one element in ``encoding``."""
    if encoding.kind == "bipolar":
        return unsigned(1)
    return signed(encoding.bits) if encoding.signed else unsigned(encoding.bits)


def signed_shape_for(low: int, high: int) -> Shape:
    """Return the narrowest signed shape holding every integer in ``low .. high``."""
    return signed(max(bits_for(low, require_sign_bit=True), bits_for(high, require_sign_bit=True)))


_DOTS = {"bipolar": "binary_weight", "ternary": "ternary", "int": "fixed", "uint": "fixed"}


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
        ``"xnor"`` (bipolar x bipolar, accumulates popcounts), ``"binary_weight"``,
        ``"ternary"`` or ``"fixed"`` (accumulate the signed dot product).
    input_shape, weight_shape : Shape
        Shapes of one input element and one weight code.
    weight_bits : numpy.ndarray
        ``(fan_out, fan_in)`` unsigned weight codes (bipolar: 1 = +1, 0 = -1; otherwise the
        two's complement or unsigned pattern of ``weight_shape``).
    acc_shape : Shape
        Shape of the accumulator over the whole fan-in (from the artifact's worst-case bound).
    output_kind : str
        ``"threshold"``, ``"multithreshold"``, ``"requantize"`` or ``"scores"``.
    bounds, flips : numpy.ndarray or None
        Per-channel thresholds in the accumulator's domain (shape ``(fan_out,)`` or
        ``(fan_out, levels)``) and compare direction (threshold kinds only).
    bound_shape : Shape or None
    score_offsets : numpy.ndarray or None
        Per-channel constant added to produce the score (score layers only):
        ``score = scale * acc + offset`` with ``scale`` 2 for XNOR and 1 otherwise.
    requant : dict or None
        Requantize layers: ``multiplier``, ``offset``, ``shift`` (remainder over ``shift_base``)
        and ``zero_point`` arrays, ``shift_base`` and the shapes ``multiplier_shape``,
        ``offset_shape`` and ``max_shift``.
    output_shape : Shape
        Shape of one output element: the activation encoding's shape or the signed score.
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
    weight_shape: Shape = unsigned(1)
    output_kind: str = "threshold"
    requant: dict | None = None

    @property
    def score_scale(self) -> int:
        return 2 if self.dot == "xnor" else 1

    @property
    def levels(self) -> int:
        """Thresholds per channel (1 for a bipolar threshold, 0 without thresholds)."""
        if self.bounds is None:
            return 0
        return 1 if self.bounds.ndim == 1 else int(self.bounds.shape[1])


def lower_layer(layer: DenseLayer) -> LoweredLayer:
    """Return the hardware form of an artifact layer.

    Raises
    ------
    ValueError
        If the layer's precision pair has no hardware implementation.
    """
    fan_in = layer.in_features
    xnor = layer.input_encoding.kind == "bipolar"
    if xnor and layer.weight_encoding.kind != "bipolar":
        raise ValueError(f"layer {layer.name!r}: {layer.weight_encoding} weights with bipolar "
                         f"inputs have no hardware implementation")
    dot = "xnor" if xnor else _DOTS[layer.weight_encoding.kind]
    bound = layer.accumulator_bound
    acc_shape = unsigned(bits_for(fan_in)) if xnor else signed_shape_for(-bound, bound)
    weight_encoding = layer.weight_encoding
    weight_shape = element_shape(weight_encoding)
    bits = weight_encoding.to_code(layer.weights).astype(np.int64)
    bounds = flips = bound_shape = offsets = requant = None
    output = layer.output
    if isinstance(output, (ThresholdActivation, MultiThresholdActivation)):
        t = output.thresholds.astype(np.int64)
        flips = (output.directions < 0).astype(np.int64)
        flip = flips if t.ndim == 1 else flips[:, None]
        # direction -1 means -a >= t, i.e. a <= -t
        limit = np.where(flip == 1, -t, t)
        if xnor:
            bounds = np.where(flip == 1, (limit + fan_in) // 2, -((-(limit + fan_in)) // 2))
        else:
            bounds = limit
        bound_shape = signed_shape_for(int(bounds.min()), int(bounds.max()))
        output_shape = element_shape(output.encoding)
        kind = "threshold" if isinstance(output, ThresholdActivation) else "multithreshold"
    elif isinstance(output, RequantizeOutput):
        requant = _lower_requantize(output)
        output_shape = element_shape(output.encoding)
        kind = "requantize"
    else:
        offsets = output.bias.astype(np.int64) - (fan_in if xnor else 0)
        high = bound + int(np.abs(output.bias).max())
        output_shape = signed_shape_for(-high, high)
        kind = "scores"
    return LoweredLayer(
        name=layer.name, fan_in=fan_in, fan_out=layer.out_features, dot=dot,
        input_shape=element_shape(layer.input_encoding), weight_bits=bits, acc_shape=acc_shape,
        bounds=bounds, flips=flips, bound_shape=bound_shape, score_offsets=offsets,
        output_shape=output_shape, weight_shape=weight_shape, output_kind=kind,
        requant=requant)


def _lower_requantize(output: RequantizeOutput) -> dict:
    shift = output.shift.astype(np.int64)
    base = int(shift.min())
    multiplier = output.multiplier.astype(np.int64)
    offset = output.offset.astype(np.int64)
    return {
        "multiplier": multiplier, "offset": offset, "shift": shift - base,
        "zero_point": output.zero_point.astype(np.int64), "shift_base": base,
        "max_shift": int(shift.max()) - base,
        "multiplier_shape": signed_shape_for(int(multiplier.min()), int(multiplier.max())),
        "offset_shape": signed_shape_for(int(offset.min()), int(offset.max())),
    }
