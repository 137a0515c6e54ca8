"""Convolutional networks through the generator: folding, cycle model, and the units against the
reference in Amaranth's simulator (every layer kind, both precision families, with stalls)."""

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import FoldingError, LayerFolding
from qnnforge.hw.compiler.layers import hardware_for, lower_layer
from qnnforge.hw.compiler.network import Network
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.compiler.plan import cycle_model, default_folding
from qnnforge.hw.cores.convolution import ConvolutionUnit
from qnnforge.hw.cores.pooling import MaxPoolUnit
from qnnforge.sw import reference

from .layers import random_cnn, random_inputs
from .simulate import run_stream


def _codes(encoding, values):
    return [int(c) for c in encoding.to_code(values)]


def _stream_layer(unit, layer, inputs, in_lanes, out_lanes, **stalls):
    codes = layer.input_encoding.to_code(inputs)
    beats = [[int(c) for c in row[i:i + in_lanes]]
             for row in codes for i in range(0, layer.in_features, in_lanes)]
    payloads = run_stream(unit, beats, len(inputs) * layer.out_features // out_lanes, **stalls)
    values = np.array([[int(v) for v in p] for p in payloads]).reshape(len(inputs), -1)
    encoding = layer.output_encoding
    return values if encoding is None else encoding.from_code(values)


@pytest.mark.parametrize("precision", ["binary", "fixed"])
@pytest.mark.parametrize("pe, simd, lanes", [(1, 1, 1), (2, 9, 2), (4, 18, 1)])
@pytest.mark.parametrize("stalls", [{}, {"stall": 0.3, "backpressure": 0.3, "seed": 5}])
def test_convolution_unit_matches_reference(precision, pe, simd, lanes, stalls):
    rng = np.random.default_rng(7)
    artifact = random_cnn(rng, precision)
    conv = artifact.layers[0]
    inputs = random_inputs(conv.input_encoding, rng, 3, conv.in_features)
    unit = ConvolutionUnit(lower_layer(conv), pe=pe, simd=simd, lanes=lanes)
    got = _stream_layer(unit, conv, inputs, lanes, pe, **stalls)
    np.testing.assert_array_equal(got, conv.forward(inputs))


@pytest.mark.parametrize("pe, simd, lanes", [(2, 9, 2), (4, 5, 1)])
def test_binary_first_convolution_counts_padding_pixels_of_one(pe, simd, lanes):
    # uint1 pixels on XNOR lanes; the border pads with pixel 1 (a real input, counted), while
    # SIMD 5 of 18 leaves idle lanes of code 0 that must count nothing
    rng = np.random.default_rng(9)
    artifact = random_cnn(rng, "binary", input_bits=1)
    conv = artifact.layers[0]
    assert conv.pad_value == 1
    lowered = lower_layer(conv)
    assert lowered.matrix.dot.name == "xnor_uint1"
    inputs = random_inputs(conv.input_encoding, rng, 3, conv.in_features)
    unit = ConvolutionUnit(lowered, pe=pe, simd=simd, lanes=lanes)
    got = _stream_layer(unit, conv, inputs, lanes, pe, stall=0.3, backpressure=0.3, seed=2)
    np.testing.assert_array_equal(got, conv.forward(inputs))


@pytest.mark.parametrize("precision", ["binary", "fixed"])
@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_maxpool_unit_matches_reference(precision, lanes):
    rng = np.random.default_rng(3)
    pool = random_cnn(rng, precision).layers[2]
    inputs = random_inputs(pool.input_encoding, rng, 3, pool.in_features)
    unit = MaxPoolUnit(lower_layer(pool), lanes=lanes)
    got = _stream_layer(unit, pool, inputs, lanes, lanes, stall=0.2, backpressure=0.2, seed=1)
    np.testing.assert_array_equal(got, pool.forward(inputs))


@pytest.mark.parametrize("pipeline", [0, 1])
@pytest.mark.parametrize("precision", ["binary", "fixed"])
def test_network_classifies_like_the_reference(precision, pipeline):
    rng = np.random.default_rng(11)
    artifact = random_cnn(rng, precision)
    folding = default_folding(artifact.layers, 300)
    inputs = random_inputs(artifact.input.encoding, rng, 3, artifact.in_features)
    network = Network(artifact, folding, options=HardwareOptions(pipeline=pipeline))
    lanes = folding.input_lanes
    beats = [[int(c) for c in row[i:i + lanes]]
             for row in inputs for i in range(0, artifact.in_features, lanes)]
    results = run_stream(network, beats, len(inputs), stall=0.2, backpressure=0.2, seed=3)
    trace = reference.run(artifact, inputs)
    assert [int(r.cls) for r in results] == trace.classes.tolist()
    assert [[int(s) for s in r.scores] for r in results] == trace.scores.tolist()


def test_conv_folding_meets_the_target_with_finn_cycles():
    artifact = random_cnn(np.random.default_rng(0), "binary")
    conv = artifact.layers[1]  # 6x6 output pixels, 36 x 4 matrix
    folding = default_folding(artifact.layers, 6 * 6 * 8)
    fold = folding.layers[1]
    model = cycle_model(artifact.layers, folding)
    kind = hardware_for(conv)
    matrix = 36 * -(-conv.fan_in // fold.simd) * (4 // fold.pe)  # OFM_H*OFM_W * SF * NF
    assert kind.matrix_cycles(conv, fold) == matrix <= 6 * 6 * 8
    windows = 36 * conv.fan_in // folding.layers[0].pe  # window beats at the producer's lanes
    assert model.layer_cycles[1] == max(matrix, windows)
    assert not model.latency_exact
    # the pool carries its input's lanes through
    assert folding.layers[2] == LayerFolding(fold.pe, 1)


def test_window_beats_bound_a_conv_fed_too_narrowly():
    artifact = random_cnn(np.random.default_rng(0), "binary")
    conv = artifact.layers[1]
    kind = hardware_for(conv)
    fastest = LayerFolding(4, conv.fan_in)  # one cycle a pixel for the matrix
    assert kind.cycles(conv, fastest, 1) == 36 * conv.fan_in  # one element a beat: the windows
    assert kind.cycles(conv, fastest, 4) == 36 * conv.fan_in // 4


@pytest.mark.parametrize("index, folding, lanes, message", [
    (1, LayerFolding(3, 4), 1, r"^layer 1: PE must divide the fan-out 4, not 3$"),
    (1, LayerFolding(1, 37), 1, r"^layer 1: SIMD must not exceed the fan-in 36, not 37$"),
    (1, LayerFolding(1, 4), 3, r"^layer 1: the input stream's 3 elements per beat must divide "
                               r"the input channels 4$"),
    (2, LayerFolding(2, 1), 4, r"^layer 2: a max-pool passes its input's 4 lanes through, so "
                               r"its folding must be 4x1, not 2x1$"),
])
def test_conv_and_pool_reject_foldings_that_do_not_fit(index, folding, lanes, message):
    artifact = random_cnn(np.random.default_rng(0), "binary")
    layer = artifact.layers[index]
    with pytest.raises(FoldingError, match=message):
        hardware_for(layer).check_folding(index, layer, folding, lanes)


def test_conv_summary_counts_partial_folds_and_the_window_bound():
    # the 6x6-pixel output conv of random_cnn: 4 output channels, fan-in 36 (3x3 x 4 channels)
    artifact = random_cnn(np.random.default_rng(0), "binary")
    conv = artifact.layers[1]
    kind = hardware_for(conv)
    lowered = kind.lower(conv)
    # SIMD 5 does not divide 36: ceil(36 / 5) = 8 synapse folds, 4 / 2 = 2 neuron folds
    entry = kind.summary(lowered, LayerFolding(2, 5), 4)
    assert (entry["synapse_folds"], entry["neuron_folds"]) == (8, 2)
    assert entry["cycles_per_pixel"] == 16 and entry["matrix_cycles"] == 36 * 16
    # fed one element a beat, the windows (36 pixels x 36 elements) are slower than the matrix
    entry = kind.summary(lowered, LayerFolding(4, 36), 1)
    assert entry["matrix_cycles"] == 36 and entry["window_beats"] == 36 * 36
    assert entry["cycles"] == 36 * 36
