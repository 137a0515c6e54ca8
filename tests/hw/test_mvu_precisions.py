"""The matrix-vector unit for every precision pair and output rule, against the reference.

Hypothesis draws widths, signedness, shapes, folding and values; every case runs in Amaranth's
simulator with random stalls and backpressure and must match :mod:`qnnforge.sw.reference`
exactly. Extremes are always present: all-minimum and all-maximum input rows (so most negative
x most negative products), weights at both ends of their range, thresholds that are always or
never passed and requantizers that saturate.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.cores.mvu import MatrixVectorUnit
from qnnforge.sw import reference
from qnnforge.sw.encoding import TERNARY, BIPOLAR, codebook, sint, ttq, uint

from .layers import mixed_layer, random_inputs
from .simulate import run_stream


def _simulate(layer, pe, simd, in_lanes, inputs, dsp=True, seed=0, pipeline=0):
    unit = MatrixVectorUnit(lower_layer(layer), pe=pe, simd=simd, in_lanes=in_lanes,
                            options=HardwareOptions(dsp=dsp, pipeline=pipeline))
    codes = layer.input_encoding.to_code(inputs)
    beats = [[int(c) for c in row[i:i + in_lanes]]
             for row in codes for i in range(0, layer.in_features, in_lanes)]
    payloads = run_stream(unit, beats, len(inputs) * (layer.out_features // pe), stall=0.25,
                          backpressure=0.25, seed=seed)
    values = np.array([[int(v) for v in payload] for payload in payloads]).reshape(
        len(inputs), layer.out_features)
    return values


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


encodings = st.one_of(
    st.builds(uint, st.integers(1, 8)), st.builds(sint, st.integers(2, 8)))

@st.composite
def codebooks(draw):
    bits = draw(st.integers(1, 5))
    values = draw(st.sets(st.integers(-128, 127), min_size=1, max_size=1 << bits))
    return codebook(bits, sorted(values))


weight_encodings = st.one_of(
    st.just(BIPOLAR), st.just(TERNARY), st.builds(sint, st.integers(2, 8)),
    st.builds(uint, st.integers(1, 4)), st.builds(ttq, st.integers(1, 40), st.integers(1, 40)),
    codebooks())
outputs = st.one_of(
    st.tuples(st.just("scores"), st.none()),
    st.tuples(st.just("threshold"), st.just(BIPOLAR)),
    st.tuples(st.just("multithreshold"), st.builds(uint, st.integers(1, 3))),
    st.tuples(st.just("requantize"), st.one_of(st.builds(uint, st.integers(1, 8)),
                                               st.builds(sint, st.integers(2, 8)))))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), fan_in=st.integers(1, 12), fan_out=st.sampled_from([1, 2, 3, 4]),
       x_encoding=encodings, w_encoding=weight_encodings, output=outputs,
       dsp=st.booleans(), seed=st.integers(0, 2**16), pipeline=st.sampled_from([0, 1, 2]))
def test_mvu_matches_reference_for_every_precision(data, fan_in, fan_out, x_encoding,
                                                   w_encoding, output, dsp, seed, pipeline):
    rng = np.random.default_rng(seed)
    kind, out_encoding = output
    layer = mixed_layer(rng, fan_in, fan_out, x_encoding, w_encoding, kind, out_encoding)
    pe = data.draw(st.sampled_from(_divisors(fan_out)))
    simd = data.draw(st.integers(1, fan_in))
    in_lanes = data.draw(st.sampled_from(_divisors(fan_in)))
    inputs = random_inputs(x_encoding, rng, 4, fan_in)
    actual = _simulate(layer, pe, simd, in_lanes, inputs, dsp=dsp, seed=seed,
                       pipeline=pipeline)
    expected = reference.layer_forward(layer, inputs)
    encoding = layer.output_encoding
    if encoding is not None:
        actual = encoding.from_code(actual)
    np.testing.assert_array_equal(actual, expected)


def test_all_zero_inputs_give_the_zero_accumulator_rule():
    rng = np.random.default_rng(5)
    layer = mixed_layer(rng, 9, 4, sint(8), sint(8), "requantize", uint(8))
    inputs = np.zeros((2, 9), dtype=np.int64)
    actual = _simulate(layer, 2, 4, 3, inputs)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))


def test_most_negative_products_with_padding_lanes():
    rng = np.random.default_rng(6)
    layer = mixed_layer(rng, 7, 2, sint(8), sint(8), "scores")
    layer.weights[:] = -128
    inputs = np.full((2, 7), -128, dtype=np.int64)
    actual = _simulate(layer, 1, 3, 7, inputs, dsp=False)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))
    assert actual[0, 0] == 7 * 128 * 128 + layer.output.bias[0]


@settings(max_examples=15, deadline=None)
@given(data=st.data(), fan_in=st.integers(1, 10), x_encoding=encodings,
       w_encoding=st.one_of(st.builds(ttq, st.integers(1, 15), st.integers(1, 15)), codebooks()),
       dsp=st.booleans(), seed=st.integers(0, 2**16))
def test_mvu_matches_reference_for_ttq_and_codebook_weights(data, fan_in, x_encoding,
                                                            w_encoding, dsp, seed):
    rng = np.random.default_rng(seed)
    layer = mixed_layer(rng, fan_in, 2, x_encoding, w_encoding, "scores")
    simd = data.draw(st.integers(1, fan_in))
    inputs = random_inputs(x_encoding, rng, 4, fan_in)
    actual = _simulate(layer, 1, simd, fan_in, inputs, dsp=dsp, seed=seed)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))


def test_ttq_extremes_with_padding_lanes():
    rng = np.random.default_rng(7)
    layer = mixed_layer(rng, 7, 2, sint(8), ttq(13, 11), "scores")
    layer.weights[0] = -13
    layer.weights[1] = 11
    inputs = np.array([[-128] * 7, [127] * 7])
    actual = _simulate(layer, 2, 3, 7, inputs)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))
    assert actual[0, 0] == 7 * 128 * 13 + layer.output.bias[0]


@pytest.mark.parametrize("kind, out_encoding", [
    ("threshold", BIPOLAR), ("multithreshold", uint(2)), ("requantize", sint(5)),
    ("scores", None)])
@pytest.mark.parametrize("popcount, lut_inputs", [("adder_tree", 6), ("compressor", 4),
                                                  ("compressor", 6)])
@pytest.mark.parametrize("x_encoding, dot", [(uint(1), "xnor_uint1"), (BIPOLAR, "xnor")])
def test_xnor_lanes_on_every_output_and_popcount(kind, out_encoding, popcount, lut_inputs,
                                                 x_encoding, dot):
    # uint1 (a binary first layer) or bipolar x bipolar on XNOR-popcount lanes; SIMD 4 of a
    # fan-in of 10 leaves 2 padding lanes, which must count nothing however many -1 weights
    # the rows have
    rng = np.random.default_rng(11)
    layer = mixed_layer(rng, 10, 4, x_encoding, BIPOLAR, kind, out_encoding)
    layer.weights[1] = -1
    layer.weights[2] = 1
    lowered = lower_layer(layer)
    assert lowered.dot.name == dot
    unit = MatrixVectorUnit(lowered, pe=2, simd=4, in_lanes=5,
                            options=HardwareOptions(popcount=popcount, lut_inputs=lut_inputs))
    inputs = random_inputs(x_encoding, rng, 6, 10)
    codes = x_encoding.to_code(inputs)
    beats = [[int(c) for c in row[i:i + 5]] for row in codes for i in (0, 5)]
    payloads = run_stream(unit, beats, len(inputs) * 2, stall=0.3, backpressure=0.3, seed=11)
    actual = np.array([[int(v) for v in p] for p in payloads]).reshape(len(inputs), 4)
    if layer.output_encoding is not None:
        actual = layer.output_encoding.from_code(actual)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))
