"""The whole generated network in Verilator, bit-exact against the integer reference.

One trained digits model is verified on every held-out sample, at full rate and with random
stalls and backpressure, and its measured cycle figures are checked against the design
summary. A random network with folds that do not divide its layers covers the uneven paths,
and a corrupted reference proves the checker names the sample, layer and value.
"""

import dataclasses

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.sim.runner import SimulationFailed
from qnnforge.sim.verify import verify_network
from qnnforge.sw import reference
from qnnforge.sw.artifact import ThresholdActivation
from qnnforge.sw.data import load_digits_split

from ..hw.layers import random_cnn, random_inputs, random_network, reweighted


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    from qnnforge.sw.export import export_artifact, quantized_predict
    from qnnforge.sw.train import train_binarized

    result = train_binarized(digits)
    artifact = export_artifact(result.model, result.quantizer, "digits")
    codes = artifact.input.quantize(digits.x_test)
    design = generate(artifact, tmp_path_factory.mktemp("digits-hw"))
    return artifact, design, codes, quantized_predict(result.model, codes)


def test_trained_network_is_bit_exact_on_every_held_out_sample(trained, digits, tmp_path):
    artifact, design, codes, torch_classes = trained
    assert len(codes) >= 360
    result = verify_network(artifact, design, codes, tmp_path)
    assert result.samples == len(codes)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    np.testing.assert_array_equal(result.classes, torch_classes)
    assert np.mean(result.classes == digits.y_test) >= 0.95
    predicted = design.summary["cycles_per_inference"]
    assert predicted <= 256
    assert abs(result.cycles_per_inference - predicted) <= 0.05 * predicted
    assert result.latency_cycles == design.summary["latency_cycles"]


def test_checker_names_the_first_differing_sample_layer_and_value(trained, tmp_path):
    artifact, design, codes, _ = trained
    hidden = artifact.layers[1]
    corrupted_output = ThresholdActivation(hidden.output.thresholds + 3,
                                           hidden.output.directions)
    corrupted = dataclasses.replace(artifact, layers=(
        artifact.layers[0], dataclasses.replace(hidden, output=corrupted_output),
        *artifact.layers[2:]))
    with pytest.raises(SimulationFailed,
                       match=r"sample \d+, layer fc1, element \d+: expected -?\d+, got -?\d+"):
        verify_network(corrupted, design, codes[:40], tmp_path, stall=0.0, backpressure=0.0)


def test_uneven_folding_with_stalls(tmp_path):
    rng = np.random.default_rng(7)
    artifact = random_network(rng, [18, 12, 9, 6])
    folding = {0: LayerFolding(pe=3, simd=5), 1: LayerFolding(pe=9, simd=7),
               2: LayerFolding(pe=2, simd=4)}
    design = generate(artifact, tmp_path / "hw", overrides=folding)
    codes = artifact.input.encoding.to_code(random_inputs(artifact.input.encoding, rng, 200, 18))
    result = verify_network(artifact, design, codes, tmp_path / "sim", stall=0.5,
                            backpressure=0.5, seed=3)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    assert result.cycles_per_inference == pytest.approx(design.summary["cycles_per_inference"],
                                                        rel=0.05)


@pytest.mark.parametrize("precision, target", [("binary", 300), ("fixed", 700)])
def test_random_cnn_is_bit_exact_with_measured_cycles(precision, target, tmp_path):
    """Convolutions, padding with a non-zero pad value, a pool and a dense layer: every layer's
    stream checked, full rate and with stalls; the windows keep the predicted pace exactly."""
    rng = np.random.default_rng(17)
    artifact = random_cnn(rng, precision, in_shape=(7, 6, 2), channels=(4, 6))
    design = generate(artifact, tmp_path / "hw", target_cycles=target)
    inputs = random_inputs(artifact.input.encoding, rng, 30, artifact.in_features)
    codes = artifact.input.encoding.to_code(inputs)
    result = verify_network(artifact, design, codes, tmp_path / "sim", stall=0.4,
                            backpressure=0.4, seed=5)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    assert result.cycles_per_inference == design.summary["cycles_per_inference"]
    assert result.latency_cycles <= design.summary["latency_cycles"]
    assert not design.summary["latency_exact"]


def test_checker_names_a_convolution_layer(tmp_path):
    rng = np.random.default_rng(17)
    artifact = random_cnn(rng, "binary", in_shape=(5, 5, 2), channels=(4, 4))
    design = generate(artifact, tmp_path / "hw", target_cycles=400)
    conv = artifact.layers[1]
    corrupted = dataclasses.replace(artifact, layers=(
        artifact.layers[0], dataclasses.replace(conv, pad_value=-conv.pad_value),
        *artifact.layers[2:]))
    codes = random_inputs(artifact.input.encoding, rng, 20, artifact.in_features)
    with pytest.raises(SimulationFailed,
                       match=r"sample \d+, layer conv1, element \d+: expected -?\d+, got -?\d+"):
        verify_network(corrupted, design, codes, tmp_path / "sim", stall=0.0,
                       backpressure=0.0)


def test_trained_cnn_is_bit_exact_on_every_held_out_sample(digits, tmp_path):
    """A binary CNN trained by qnnforge (briefly: the figures come from `qnnforge demo --arch
    cnn`), every held-out digit, every layer's stream, full rate and with stalls and
    backpressure. The random CNNs above cover the fixed-point precisions."""
    from qnnforge.sw.config import TrainConfig
    from qnnforge.sw.pipeline import train_and_export

    config = TrainConfig(arch="cnn", channels=(8, 8, 16), epochs=3)
    trained = train_and_export(config, split=digits)
    artifact = trained.artifact
    codes = artifact.input.quantize(digits.x_test)
    design = generate(artifact, tmp_path / "hw", target_cycles=600)
    result = verify_network(artifact, design, codes, tmp_path / "sim")
    assert result.samples == len(codes) >= 360
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    assert np.mean(result.classes == digits.y_test) == trained.reference_accuracy
    assert result.cycles_per_inference == design.summary["cycles_per_inference"]


def test_pipelined_trained_network_is_bit_exact_with_the_predicted_latency(trained, tmp_path):
    # the digits MLP registered every 2 adder levels: 128-lane popcounts of 4 stages, 64-lane
    # add/subtract trees of 3, a result register per layer and a 3-level argmax tree (PE 5)
    artifact, plain, codes, torch_classes = trained
    design = generate(artifact, tmp_path / "hw", options=HardwareOptions(pipeline=2))
    result = verify_network(artifact, design, codes, tmp_path / "sim")
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    np.testing.assert_array_equal(result.classes, torch_classes)
    assert design.summary["cycles_per_inference"] == plain.summary["cycles_per_inference"]
    assert result.cycles_per_inference == pytest.approx(design.summary["cycles_per_inference"],
                                                        rel=0.05)
    # fc0 (SIMD 64, 6 adder levels): 3 dot stages, fc1 (SIMD 128): 4, fc2 (SIMD 2): 0; a
    # result register each; the argmax tree over 5 lanes: 3 levels, then its running maximum;
    # two skid buffers
    assert design.summary["latency_cycles"] == (plain.summary["latency_cycles"]
                                                + 3 + 4 + 3 + 3 + 1 + 2)
    assert result.latency_cycles == design.summary["latency_cycles"]


def _verify_with_stalls(artifact, design, codes, out, seed: int):
    """Verify ``design`` on ``codes`` with stalls and backpressure half the time: bit-exact, at
    the predicted interval (within 5 %, the stalls' share) and the predicted latency."""
    result = verify_network(artifact, design, codes, out, stall=0.5, backpressure=0.5,
                            seed=seed)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    assert result.cycles_per_inference == pytest.approx(design.summary["cycles_per_inference"],
                                                        rel=0.05)
    assert result.latency_cycles == design.summary["latency_cycles"]


@pytest.mark.parametrize("pipeline", [1, 3])
def test_pipelined_uneven_folding_with_stalls(pipeline, tmp_path):
    rng = np.random.default_rng(7)
    artifact = random_network(rng, [18, 12, 9, 6])
    folding = {0: LayerFolding(pe=3, simd=5), 1: LayerFolding(pe=9, simd=7),
               2: LayerFolding(pe=2, simd=4)}
    design = generate(artifact, tmp_path / "hw", overrides=folding,
                      options=HardwareOptions(pipeline=pipeline))
    codes = artifact.input.encoding.to_code(random_inputs(artifact.input.encoding, rng, 200, 18))
    _verify_with_stalls(artifact, design, codes, tmp_path / "sim", seed=3)


@pytest.mark.parametrize("popcount", ["adder_tree", "compressor"])
def test_binary_mlp_with_a_binary_first_layer_on_popcount_lanes(tmp_path, popcount):
    # uint1 inputs x bipolar weights counted on XNOR lanes (a = P - N[c]); SIMD 7 of 20 and 5
    # of 12 leave padding lanes; stalls and backpressure; the measured cycles are the model's
    rng = np.random.default_rng(14)
    artifact = random_network(rng, [20, 12, 8, 4], input_bits=1)
    folding = {0: LayerFolding(pe=3, simd=7), 1: LayerFolding(pe=2, simd=5),
               2: LayerFolding(pe=2, simd=8)}
    design = generate(artifact, tmp_path / "hw", overrides=folding,
                      options=HardwareOptions(popcount=popcount, lut_inputs=4))
    assert [entry["dot"] for entry in design.summary["layers"]] == [
        "xnor_uint1", "xnor", "xnor"]
    codes = random_inputs(artifact.input.encoding, rng, 150, 20)
    result = verify_network(artifact, design, codes, tmp_path / "sim", stall=0.4,
                            backpressure=0.4, seed=5)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    assert result.cycles_per_inference == design.summary["cycles_per_inference"]
    assert result.latency_cycles == design.summary["latency_cycles"]


@pytest.mark.parametrize("pipeline", [0, 1])
def test_whole_word_buffer_writes_with_stalls(pipeline, tmp_path):
    # beats narrower than SIMD (1 into 8, 3 into 6, 2 into 4): each layer collects a word and
    # writes its input buffer once a word, as for xc7's LUT RAM
    rng = np.random.default_rng(11)
    artifact = random_network(rng, [16, 12, 8, 6])
    folding = {0: LayerFolding(pe=3, simd=8), 1: LayerFolding(pe=2, simd=6),
               2: LayerFolding(pe=2, simd=4)}
    options = HardwareOptions(pipeline=pipeline, whole_word_writes=True)
    design = generate(artifact, tmp_path / "hw", overrides=folding, options=options)
    lane_masked = generate(artifact, tmp_path / "masked", overrides=folding,
                           options=HardwareOptions(pipeline=pipeline))
    assert "earlier" in design.verilog.read_text()  # the collecting register
    assert "earlier" not in lane_masked.verilog.read_text()
    codes = artifact.input.encoding.to_code(random_inputs(artifact.input.encoding, rng, 200, 16))
    _verify_with_stalls(artifact, design, codes, tmp_path / "sim", seed=5)
    assert design.summary["latency_cycles"] == lane_masked.summary["latency_cycles"]


@pytest.mark.parametrize("network", ["dense", "cnn"])
def test_weights_loaded_through_the_weight_stream_classify_like_their_reference(network,
                                                                                 tmp_path):
    # built with one set of weights, then loaded with another through w_stream (under stalls
    # in the stalled run) before the inputs: bit-exact against the reweighted artifact
    from qnnforge.hw.compiler.folding import Folding
    from qnnforge.hw.compiler.network import Network

    rng = np.random.default_rng(23)
    built = (random_network(rng, [16, 12, 8, 6]) if network == "dense"
             else random_cnn(rng, "fixed"))
    loaded = reweighted(built, rng)
    options = HardwareOptions(writable_weights=True)
    design = generate(built, tmp_path / "hw", target_cycles=64, options=options)
    folding = Folding.from_json(design.summary["folding"])
    beats = Network(built, folding, options=options).weight_beats(loaded)
    encoding = built.input.encoding
    codes = encoding.to_code(random_inputs(encoding, rng, 60, built.in_features))
    result = verify_network(loaded, design, codes, tmp_path / "sim", stall=0.3,
                            backpressure=0.3, seed=9, weight_beats=beats)
    assert result.mismatches == 0 and result.stalled_mismatches == 0
    # the built weights would not have passed: the load did take
    assert not np.array_equal(reference.run(loaded, encoding.from_code(codes)).classes,
                              reference.run(built, encoding.from_code(codes)).classes)
