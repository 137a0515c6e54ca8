"""Random artifact layers and networks for hardware tests."""

from __future__ import annotations

import numpy as np

from qnnforge.sw.artifact import (Artifact, DenseLayer, InputQuantizer, ScoreOutput,
                                  ThresholdActivation)
from qnnforge.sw.encoding import BIPOLAR, Encoding, uint


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
