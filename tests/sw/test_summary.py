"""The artifact's counts (params, bits, MACs, BOPs) against values worked out by hand."""

import numpy as np

from qnnforge.sw.artifact import (Artifact, DenseLayer, InputQuantizer, MultiThresholdActivation,
                                  ScoreOutput)
from qnnforge.sw.encoding import sint, uint
from qnnforge.sw.summary import COUNTS, layer_counts, model_counts

from .test_artifact_v3 import image_artifact


def test_image_counts_by_hand():
    # conv0: 4x4x1 -> 4x4x2 (3x3, pad 1), bipolar weights on 4-bit inputs, a threshold each
    # pool0: 4x4x2 -> 2x2x2; fc0: 8 -> 2 scores, bipolar x bipolar, bias per class
    counts = model_counts(image_artifact())
    conv, pool, dense = counts["layers"]
    assert (conv["params"], conv["weights"], conv["weight_bits"]) == (18 + 2 + 2, 18, 18)
    assert conv["macs"] == 4 * 4 * 9 * 2                 # every weight once per output pixel
    assert conv["bops"] == 288 * 1 * 4                   # MACs x 1-bit weights x 4-bit inputs
    assert conv["activation_bits"] == 4 * 4 * 2          # 32 bipolar outputs
    assert (pool["params"], pool["macs"], pool["bops"], pool["activation_bits"]) == (0, 0, 0, 8)
    assert pool["weight_encoding"] is None and pool["weight_bits"] == 0
    # scores lie in -8 - 1 .. 8 + 1: 5 bits each
    assert (dense["params"], dense["macs"], dense["bops"]) == (16 + 2, 16, 16)
    assert dense["output_encoding"] == "scores" and dense["activation_bits"] == 2 * 5
    assert counts["totals"] == {"params": 40, "weights": 34, "weight_bits": 34,
                                "activation_bits": 50, "macs": 304, "bops": 1168}
    assert set(counts["totals"]) == set(COUNTS)


def test_fixed_point_counts_by_hand():
    # 3 -> 2 int4 weights on uint2 inputs, 3 thresholds + a direction per channel (uint2 out),
    # then 2 -> 2 scores with int4 weights
    rng = np.random.default_rng(0)
    hidden = DenseLayer("fc0", uint(2), sint(4), rng.integers(-8, 8, size=(2, 3)),
                        MultiThresholdActivation(np.array([[0, 5, 9], [1, 2, 3]]),
                                                 np.array([1, -1]), uint(2)))
    scores = DenseLayer("fc1", uint(2), sint(4), rng.integers(-8, 8, size=(2, 2)),
                        ScoreOutput(np.array([0, 0])))
    artifact = Artifact("tiny", InputQuantizer(uint(2), 0, 3, 1, 0), (hidden, scores))
    first = layer_counts(hidden, artifact.score_bits)
    assert (first["params"], first["weight_bits"], first["macs"]) == (6 + 6 + 2, 6 * 4, 6)
    assert first["bops"] == 6 * 4 * 2 and first["activation_bits"] == 2 * 2
    assert (first["input_encoding"], first["weight_encoding"], first["output_encoding"]) == (
        "uint2", "int4", "uint2")
    # |acc| <= 2 * 8 * 3 = 48: scores -48..48 need 7 bits
    assert layer_counts(scores, artifact.score_bits)["activation_bits"] == 2 * 7
