"""A random mixed-precision network in Verilator, every layer checked against the reference.

One network uses every dot kind of fixed weights and output rule at once: int8 weights with a
requantizer, ternary weights with multi-thresholds, binary weights with a bipolar threshold and
an XNOR score layer. Folds that do not divide the layers, LUT-only multipliers, random stalls and
backpressure; the network_tb monitors compare each layer's output stream with the reference. A
second network holds the dot kinds of learned tables: TTQ and codebook weights.
"""

import numpy as np

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.sim.verify import verify_network
from qnnforge.sw import reference
from qnnforge.sw.artifact import Artifact, InputQuantizer
from qnnforge.sw.encoding import BIPOLAR, TERNARY, codebook, sint, ttq, uint

from ..hw.layers import mixed_layer, random_inputs


def _mixed_network(rng) -> Artifact:
    layers = (
        mixed_layer(rng, 12, 8, uint(4), sint(8), "requantize", uint(8), "fc0"),
        mixed_layer(rng, 8, 6, uint(8), TERNARY, "multithreshold", uint(2), "fc1"),
        mixed_layer(rng, 6, 6, uint(2), BIPOLAR, "threshold", BIPOLAR, "fc2"),
        mixed_layer(rng, 6, 4, BIPOLAR, BIPOLAR, "scores", None, "fc3"),
    )
    # a requantizer that keeps the outputs inside 0..255 most of the time (not only saturated)
    fc0 = layers[0]
    fc0.output.multiplier[:] = rng.integers(1 << 14, 1 << 15, size=8) * rng.choice([-1, 1], 8)
    fc0.output.shift[:] = rng.integers(14, 20, size=8)
    fc0.output.offset[:] = (1 << 13) * rng.integers(0, 200, size=8) + (1 << 13)
    quantizer = InputQuantizer(uint(4), 0, 15, 1, 0)
    return Artifact("mixed", quantizer, layers)


def test_mixed_precision_network_is_bit_exact(tmp_path):
    rng = np.random.default_rng(11)
    artifact = _mixed_network(rng)
    folding = {0: LayerFolding(pe=2, simd=5), 1: LayerFolding(pe=3, simd=3),
               2: LayerFolding(pe=6, simd=4), 3: LayerFolding(pe=2, simd=6)}
    design = generate(artifact, tmp_path / "hw", overrides=folding,
                      options=HardwareOptions(dsp=False))
    assert [entry["dot"] for entry in design.summary["layers"]] == [
        "fixed", "ternary", "binary_weight", "xnor"]
    inputs = random_inputs(artifact.input.encoding, rng, 150, 12)
    trace = reference.run(artifact, inputs)
    fc0 = trace.outputs[0]
    assert 0 < np.mean((fc0 > 0) & (fc0 < 255)) < 1  # neither all saturated nor none
    codes = artifact.input.encoding.to_code(inputs)
    result = verify_network(artifact, design, codes, tmp_path / "sim", stall=0.4,
                            backpressure=0.4, seed=5)
    assert result.samples == 150
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    np.testing.assert_array_equal(result.classes, trace.classes)


def test_ttq_and_codebook_network_is_bit_exact(tmp_path):
    # TTQ weights with multi-thresholds, then 3-bit codebook weights (LUT-only multipliers,
    # a table of 6 values: indices 6 and 7 are never stored) producing the scores
    rng = np.random.default_rng(13)
    layers = (
        mixed_layer(rng, 12, 8, uint(4), ttq(11, 15), "multithreshold", uint(2), "fc0"),
        mixed_layer(rng, 8, 6, uint(2), codebook(3, (-127, -40, -3, 0, 58, 126)),
                    "multithreshold", uint(3), "fc1"),
        mixed_layer(rng, 6, 4, uint(3), codebook(2, (-90, 7, 100, 127)), "scores", None, "fc2"),
    )
    artifact = Artifact("tables", InputQuantizer(uint(4), 0, 15, 1, 0), layers)
    folding = {0: LayerFolding(pe=2, simd=5), 1: LayerFolding(pe=3, simd=3),
               2: LayerFolding(pe=2, simd=4)}
    design = generate(artifact, tmp_path / "hw", overrides=folding,
                      options=HardwareOptions(dsp=False))
    assert [entry["dot"] for entry in design.summary["layers"]] == ["ttq", "codebook",
                                                                    "codebook"]
    inputs = random_inputs(artifact.input.encoding, rng, 120, 12)
    trace = reference.run(artifact, inputs)
    codes = artifact.input.encoding.to_code(inputs)
    result = verify_network(artifact, design, codes, tmp_path / "sim", stall=0.3,
                            backpressure=0.3, seed=9)
    assert result.samples == 120
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    np.testing.assert_array_equal(result.classes, trace.classes)
