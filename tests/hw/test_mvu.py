"""The matrix-vector unit against the reference, over foldings, precisions and stalls."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.cores.mvu import MatrixVectorUnit
from qnnforge.sw import reference
from qnnforge.sw.encoding import BIPOLAR, uint

from .layers import random_inputs, random_layer
from .simulate import run_stream


def _simulate_layer(layer, pe, simd, in_lanes, inputs, stall=0.0, backpressure=0.0, seed=0,
                    **options):
    unit = MatrixVectorUnit(lower_layer(layer), pe=pe, simd=simd, in_lanes=in_lanes,
                            options=HardwareOptions(**options))
    codes = layer.input_encoding.to_code(inputs)
    beats = [[int(c) for c in row[i:i + in_lanes]]
             for row in codes for i in range(0, layer.in_features, in_lanes)]
    out_beats = len(inputs) * (layer.out_features // pe)
    payloads = run_stream(unit, beats, out_beats, stall=stall, backpressure=backpressure,
                          seed=seed)
    values = np.array([[int(v) for v in payload] for payload in payloads]).reshape(
        len(inputs), layer.out_features)
    encoding = layer.output_encoding
    return values if encoding is None else encoding.from_code(values)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@settings(max_examples=12, deadline=None)
@given(data=st.data(), fan_in=st.integers(1, 20), fan_out=st.sampled_from([1, 2, 3, 4, 6]),
       bipolar_input=st.booleans(), scores=st.booleans(), seed=st.integers(0, 2**16))
def test_mvu_matches_reference_for_any_folding(data, fan_in, fan_out, bipolar_input, scores,
                                               seed):
    rng = np.random.default_rng(seed)
    encoding = BIPOLAR if bipolar_input else uint(data.draw(st.integers(1, 5)))
    layer = random_layer(rng, fan_in, fan_out, encoding, scores)
    pe = data.draw(st.sampled_from(_divisors(fan_out)))
    simd = data.draw(st.integers(1, fan_in))
    in_lanes = data.draw(st.sampled_from(_divisors(fan_in)))
    inputs = random_inputs(encoding, rng, 5, fan_in)
    actual = _simulate_layer(layer, pe, simd, in_lanes, inputs, stall=0.3, backpressure=0.3,
                             seed=seed)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))


@pytest.mark.parametrize("pe, simd", [(1, 1), (2, 7), (4, 16), (8, 16), (4, 5)])
def test_mvu_xnor_layer_every_folding_full_rate(pe, simd):
    rng = np.random.default_rng(pe * 100 + simd)
    layer = random_layer(rng, 16, 8, BIPOLAR, scores=False)
    inputs = random_inputs(BIPOLAR, rng, 6, 16)
    np.testing.assert_array_equal(_simulate_layer(layer, pe, simd, 4, inputs),
                                  reference.layer_forward(layer, inputs))


@pytest.mark.parametrize("lut_inputs", [4, 6])
def test_mvu_xnor_layer_with_compressor_popcount(lut_inputs):
    rng = np.random.default_rng(lut_inputs)
    layer = random_layer(rng, 40, 6, BIPOLAR, scores=True)
    inputs = random_inputs(BIPOLAR, rng, 6, 40)
    actual = _simulate_layer(layer, 3, 20, 8, inputs, stall=0.3, backpressure=0.3,
                             popcount="compressor", lut_inputs=lut_inputs)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))


def test_mvu_weight_words_follow_finn_order():
    rng = np.random.default_rng(3)
    layer = random_layer(rng, 5, 4, BIPOLAR, scores=False)
    unit = MatrixVectorUnit(lower_layer(layer), pe=2, simd=2, in_lanes=5)
    words = unit.weight_words()
    assert len(words) == unit.neuron_folds * unit.synapse_folds == 2 * 3
    bits = (layer.weights > 0).astype(int)
    for nf in range(2):
        for sf in range(3):
            for p in range(2):
                for s in range(2):
                    column = sf * 2 + s
                    expected = bits[nf * 2 + p, column] if column < 5 else 1  # neutral padding
                    assert (words[nf * 3 + sf] >> (p * 2 + s)) & 1 == expected


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(pe=3, simd=4, in_lanes=4), ValueError,
     r"^PE must be a positive integer dividing 8 \(layer 'layer'\), not 3$"),
    (dict(pe=2, simd=17, in_lanes=4), ValueError,
     r"^SIMD must not exceed the fan-in 16 \(layer 'layer'\), not 17$"),
    (dict(pe=2, simd=4, in_lanes=5), ValueError,
     r"^in_lanes must divide the fan-in 16 \(layer 'layer'\), not 5$"),
    (dict(pe=0, simd=4, in_lanes=4), TypeError, r"^PE must be a positive integer, not 0$"),
    (dict(pe=2, simd=2.0, in_lanes=4), TypeError, r"^SIMD must be a positive integer, not 2.0$"),
])
def test_mvu_rejects_bad_folding(kwargs, error, message):
    layer = random_layer(np.random.default_rng(0), 16, 8, BIPOLAR, scores=False)
    with pytest.raises(error, match=message):
        MatrixVectorUnit(lower_layer(layer), **kwargs)
