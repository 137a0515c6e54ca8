"""The widest multi-threshold layer the artifact allows (255 levels of a 16-bit accumulator),
generated and simulated in Verilator, bit-exact against the reference.

An 8-bit activation folds into 255 thresholds per channel. The comparisons once reached the
Verilog as a ``Cat`` of expressions that the popcount sliced bit by bit, which wrote every
comparison out once per level: 16.8 MB of Verilog and 92 s to generate a 32-channel layer,
which Verilator could not build in 9 minutes. Held in one signal, they are written once.
"""

import numpy as np

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.sim.verify import verify_network
from qnnforge.sw import reference
from qnnforge.sw.artifact import Artifact, InputQuantizer, MultiThresholdActivation
from qnnforge.sw.encoding import signed_bits, sint, uint

from ..hw.layers import mixed_layer, random_inputs

LEVELS = 255


def _wide_network(rng) -> Artifact:
    fc0 = mixed_layer(rng, 9, 6, uint(4), sint(8), "scores", name="fc0")
    bound = fc0.accumulator_bound  # 9 * 15 * 128 = 17280: a 16-bit signed accumulator
    assert signed_bits(-bound, bound) == 16
    # thresholds spread over the accumulators random inputs reach, so most levels occur
    thresholds = np.sort(rng.integers(-bound // 4, bound // 4 + 1, size=(6, LEVELS)), axis=1)
    thresholds[0] = -bound  # always passed: 255
    thresholds[1] = bound + 1  # never passed: 0
    directions = rng.choice([-1, 1], size=6)
    directions[2:4] = (-1, 1)
    fc0 = fc0.__class__(fc0.name, fc0.input_encoding, fc0.weight_encoding, fc0.weights,
                        MultiThresholdActivation(thresholds, directions, uint(8)))
    fc1 = mixed_layer(rng, 6, 4, uint(8), sint(8), "scores", name="fc1")
    return Artifact("wide", InputQuantizer(uint(4), 0, 15, 1, 0), (fc0, fc1))


def test_255_level_multithreshold_layer_is_small_and_bit_exact(tmp_path):
    rng = np.random.default_rng(17)
    artifact = _wide_network(rng)
    folding = {0: LayerFolding(pe=2, simd=3), 1: LayerFolding(pe=2, simd=3)}
    design = generate(artifact, tmp_path / "hw", overrides=folding)
    # 255 comparators per PE written once each: well under a megabyte (the per-level copies
    # made ~8 MB of this design)
    assert design.verilog.stat().st_size < 1 << 20
    inputs = random_inputs(artifact.input.encoding, rng, 120, 9)
    trace = reference.run(artifact, inputs)
    levels = trace.outputs[0]
    assert levels.min() == 0 and levels.max() == LEVELS
    assert len(np.unique(levels)) > 100  # the middle levels are exercised, not only the ends
    result = verify_network(artifact, design, artifact.input.encoding.to_code(inputs),
                            tmp_path / "sim", stall=0.3, backpressure=0.3, seed=3)
    assert result.samples == 120
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    np.testing.assert_array_equal(result.classes, trace.classes)
