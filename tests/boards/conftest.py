"""Shared fixtures of the board tests: a small random network with the digits' input rule."""

from __future__ import annotations

import numpy as np
import pytest

from qnnforge.hw.compiler.plan import default_folding
from qnnforge.sw.artifact import (Artifact, DenseLayer, InputQuantizer, ScoreOutput,
                                  ThresholdActivation)
from qnnforge.sw.encoding import BIPOLAR, uint

SMALL_SHAPES = ((64, 16), (16, 10))
"""64 4-bit inputs (one digits image), one hidden layer of 16, 10 classes."""


def small_artifact(seed: int = 0) -> Artifact:
    """Return a random but valid two-layer network over 8x8 digit images."""
    rng = np.random.default_rng(seed)
    quantizer = InputQuantizer(encoding=uint(4), raw_min=0, raw_max=16, multiplier=15, shift=4)
    (k0, n0), (k1, n1) = SMALL_SHAPES
    hidden_bound = k0 * 15
    hidden = DenseLayer(
        "fc0", uint(4), BIPOLAR, rng.choice([-1, 1], size=(n0, k0)),
        ThresholdActivation(thresholds=rng.integers(-60, 60, size=n0),
                            directions=rng.choice([-1, 1], size=n0)))
    out = DenseLayer("fc1", BIPOLAR, BIPOLAR, rng.choice([-1, 1], size=(n1, k1)),
                     ScoreOutput(bias=rng.integers(-3, 4, size=n1)))
    assert hidden_bound > 60
    return Artifact(name="small", input=quantizer, layers=(hidden, out))


@pytest.fixture(scope="session")
def artifact() -> Artifact:
    return small_artifact()


@pytest.fixture(scope="session")
def folding(artifact):
    return default_folding(artifact.layers, target_cycles=32)
