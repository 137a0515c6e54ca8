"""Random artifact layers and networks for hardware tests."""

from __future__ import annotations

import dataclasses

import numpy as np

from qnnforge.sw.artifact import (Artifact, Conv2dLayer, DenseLayer, InputQuantizer,
                                  MaxPool2dLayer, MultiThresholdActivation, RequantizeOutput,
                                  ScoreOutput, ThresholdActivation)
from qnnforge.sw.encoding import BIPOLAR, TABLE_KINDS, TERNARY, Encoding, sint, uint


def random_inputs(encoding: Encoding, rng, rows: int, fan_in: int) -> np.ndarray:
    """Return random legal values, with all-min and all-max rows first (the extremes)."""
    if encoding.kind == "bipolar":
        values = rng.choice([-1, 1], size=(rows, fan_in))
    else:
        values = rng.integers(encoding.min, encoding.max + 1, size=(rows, fan_in))
    values[0] = encoding.min
    if rows > 1:
        values[1] = encoding.max
    return values.astype(np.int64)


def random_layer(rng, fan_in: int, fan_out: int, encoding: Encoding, scores: bool,
                 name: str = "layer") -> DenseLayer:
    """Return a bipolar-weight layer whose thresholds cover the whole legal range."""
    weights = rng.choice([-1, 1], size=(fan_out, fan_in))
    bound = fan_in * encoding.max_abs
    if scores:
        output = ScoreOutput(rng.integers(-3, 4, size=fan_out))
    else:
        thresholds = rng.integers(-bound, bound + 2, size=fan_out)
        # most thresholds near the middle, where activations actually switch
        middle = rng.integers(-fan_in // 2, fan_in // 2 + 1, size=fan_out)
        thresholds = np.where(rng.random(fan_out) < 0.7, middle, thresholds)
        output = ThresholdActivation(thresholds, rng.choice([-1, 1], size=fan_out))
    return DenseLayer(name, encoding, BIPOLAR, weights, output)


def random_network(rng, widths: list[int], input_bits: int = 4) -> Artifact:
    """Return a random valid artifact with layer widths ``widths`` (input first)."""
    layers = []
    encoding = uint(input_bits)
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        last = index == len(widths) - 2
        layers.append(random_layer(rng, fan_in, fan_out, encoding, last, f"fc{index}"))
        encoding = BIPOLAR
    quantizer = InputQuantizer(uint(input_bits), 0, (1 << input_bits) - 1, 1, 0)
    return Artifact("random", quantizer, tuple(layers))


def random_weights(rng, encoding: Encoding, fan_out: int, fan_in: int) -> np.ndarray:
    """Return random legal weights with the extreme values forced into the first row."""
    if encoding.kind == "bipolar":
        return rng.choice([-1, 1], size=(fan_out, fan_in)).astype(np.int64)
    if encoding.kind in TABLE_KINDS:
        weights = rng.choice(np.asarray(encoding.values), size=(fan_out, fan_in))
    else:
        weights = rng.integers(encoding.min, encoding.max + 1, size=(fan_out, fan_in))
    weights[0, 0] = encoding.min
    if fan_in > 1:
        weights[0, 1] = encoding.max
    return weights.astype(np.int64)


def random_output(rng, kind: str, fan_out: int, bound: int, encoding: Encoding | None = None):
    """Return a random output rule of ``kind`` for accumulators in ``-bound .. bound``.

    Thresholds include the always (``-bound``) and never (``bound + 1``) extremes; requantizers
    mix small and large multipliers so that some channels saturate at both ends.
    """
    if kind == "scores":
        return ScoreOutput(rng.integers(-3, 4, size=fan_out))
    directions = rng.choice([-1, 1], size=fan_out)
    if kind == "threshold":
        thresholds = rng.integers(-bound - 1, bound + 2, size=fan_out)
        return ThresholdActivation(thresholds, directions)
    if kind == "multithreshold":
        levels = (1 << encoding.bits) - 1
        spread = max(1, bound // 2)
        thresholds = np.sort(rng.integers(-spread, spread + 1, size=(fan_out, levels)), axis=1)
        thresholds[0] = -bound  # always passed
        if fan_out > 1:
            thresholds[1] = bound + 1  # never passed
        if fan_out > 2:
            thresholds[2, levels // 2:] = bound + 1
        return MultiThresholdActivation(thresholds, directions, encoding)
    shift = rng.integers(0, 24, size=fan_out)
    multiplier = rng.integers(-(1 << 15), 1 << 15, size=fan_out)
    multiplier[0] = -(1 << 15) + 1
    offset = rng.integers(-(1 << 20), 1 << 20, size=fan_out) + np.where(
        shift > 0, 1 << np.maximum(shift - 1, 0), 0)
    zero_point = rng.integers(encoding.min, encoding.max + 1, size=fan_out)
    return RequantizeOutput(multiplier, shift, offset, zero_point, encoding)


def mixed_layer(rng, fan_in: int, fan_out: int, input_encoding: Encoding,
                weight_encoding: Encoding, kind: str, output_encoding: Encoding | None = None,
                name: str = "layer") -> DenseLayer:
    """Return a random layer of any precision pair and output rule."""
    weights = random_weights(rng, weight_encoding, fan_out, fan_in)
    bound = fan_in * weight_encoding.max_abs * input_encoding.max_abs
    output = random_output(rng, kind, fan_out, bound, output_encoding)
    return DenseLayer(name, input_encoding, weight_encoding, weights, output)


def random_conv(rng, name: str, in_shape: tuple[int, int, int], out_channels: int,
                input_encoding: Encoding, weight_encoding: Encoding, kind: str,
                output_encoding: Encoding | None = None, kernel=(3, 3), stride=(1, 1),
                padding=(1, 1, 1, 1), pad_value: int | None = None) -> Conv2dLayer:
    """Return a random convolution of any precision pair, output rule and geometry.

    The pad value defaults to a random legal input value other than 0 where there is one, so a
    unit that pads with zeros would be caught.
    """
    fan_in = kernel[0] * kernel[1] * in_shape[2]
    weights = random_weights(rng, weight_encoding, out_channels, fan_in).reshape(
        out_channels, kernel[0], kernel[1], in_shape[2])
    bound = fan_in * weight_encoding.max_abs * input_encoding.max_abs
    if pad_value is None:
        pad_value = int(input_encoding.max if input_encoding.kind != "bipolar"
                        else rng.choice([-1, 1]))
    return Conv2dLayer(name, input_encoding, weight_encoding, tuple(in_shape), weights,
                       tuple(stride), tuple(padding), pad_value,
                       random_output(rng, kind, out_channels, bound, output_encoding))


def random_cnn(rng, precision: str = "binary", in_shape=(6, 6, 2), channels=(4, 4),
               classes: int = 3, input_bits: int = 2) -> Artifact:
    """Return a random CNN: conv 3x3 pad 1 -> conv 3x3 pad 1 -> max-pool 2x2 -> dense scores.

    ``precision`` is ``"binary"`` (bipolar weights and activations after a fixed-point input)
    or ``"fixed"`` (signed 3-bit, then ternary weights; unsigned 2-bit activations).
    """
    x = uint(input_bits)
    if precision == "binary":
        encodings = [(x, BIPOLAR, "threshold", BIPOLAR), (BIPOLAR, BIPOLAR, "threshold", BIPOLAR)]
    else:
        encodings = [(x, sint(3), "multithreshold", uint(2)),
                     (uint(2), TERNARY, "multithreshold", uint(2))]
    layers, shape = [], tuple(in_shape)
    for index, (width, (inputs, weights, kind, outputs)) in enumerate(zip(channels, encodings)):
        conv = random_conv(rng, f"conv{index}", shape, width, inputs, weights, kind, outputs)
        layers.append(conv)
        shape = conv.out_shape
    pool = MaxPool2dLayer("pool0", layers[-1].output_encoding, shape, (2, 2), (2, 2))
    layers.append(pool)
    fan_in = pool.out_features
    last_weights = BIPOLAR if precision == "binary" else sint(2)
    layers.append(mixed_layer(rng, fan_in, classes, pool.output_encoding, last_weights, "scores",
                              name="fc0"))
    quantizer = InputQuantizer(x, 0, x.max, 1, 0)
    return Artifact(f"random-{precision}-cnn", quantizer, tuple(layers))


def reweighted_layer(layer, rng):
    """Return ``layer`` with new random weights of its encoding and everything else kept."""
    shape = layer.weights.shape
    weights = random_weights(rng, layer.weight_encoding, shape[0], int(np.prod(shape[1:])))
    return dataclasses.replace(layer, weights=weights.reshape(shape))


def reweighted(artifact: Artifact, rng) -> Artifact:
    """Return ``artifact`` with new random weights in every layer that has weights."""
    return dataclasses.replace(artifact, layers=tuple(
        reweighted_layer(layer, rng) if hasattr(layer, "weights") else layer
        for layer in artifact.layers))
