"""The matrix-vector unit against the reference, over foldings, precisions and stalls."""

import numpy as np
import pytest
from amaranth.sim import Simulator
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


# --- the input buffer: memory columns written by address -----------------------------------

# (fan_in, simd, in_lanes): in_lanes dividing SIMD, SIMD dividing in_lanes, coprime (smaller
# and larger), neither dividing the other with a common factor (the digits CNN's conv1), SIMD
# not dividing the fan-in (padding lanes must read as code 0) and SIMD = fan_in.
BUFFER_FOLDINGS = [(16, 8, 2), (16, 2, 8), (15, 4, 3), (35, 5, 7), (21, 2, 7), (24, 9, 8),
                   (144, 36, 16), (20, 6, 4), (20, 7, 1), (20, 3, 10), (12, 12, 1),
                   (12, 12, 12), (7, 1, 7), (7, 7, 1)]


@pytest.mark.parametrize("fan_in, simd, in_lanes", BUFFER_FOLDINGS)
@pytest.mark.parametrize("bipolar", [True, False])
def test_mvu_input_buffer_packs_any_lanes_into_any_simd(fan_in, simd, in_lanes, bipolar):
    rng = np.random.default_rng(fan_in * 1000 + simd * 10 + in_lanes)
    encoding = BIPOLAR if bipolar else uint(3)
    layer = random_layer(rng, fan_in, 4, encoding, scores=not bipolar)
    inputs = random_inputs(encoding, rng, 7, fan_in)
    expected = reference.layer_forward(layer, inputs)
    for pe, stall in ((2, 0.0), (1, 0.4), (4, 0.2)):
        actual = _simulate_layer(layer, pe, simd, in_lanes, inputs, stall=stall,
                                 backpressure=stall, seed=pe)
        np.testing.assert_array_equal(actual, expected, err_msg=f"PE {pe}, stall {stall}")


# foldings whose beats fill each SIMD word exactly: one column, beats narrower than SIMD, no
# padding (the others are written under lane masks whatever the option says)
COLLECTED = {(16, 8, 2), (20, 10, 5), (12, 12, 1), (7, 7, 1)}


@pytest.mark.parametrize("fan_in, simd, in_lanes", sorted(set(BUFFER_FOLDINGS) | COLLECTED))
def test_mvu_whole_word_writes_collect_exactly_the_filling_foldings(fan_in, simd, in_lanes):
    rng = np.random.default_rng(fan_in * 1000 + simd * 10 + in_lanes + 1)
    layer = random_layer(rng, fan_in, 4, uint(3), scores=True)
    inputs = random_inputs(uint(3), rng, 6, fan_in)
    unit = MatrixVectorUnit(lower_layer(layer), pe=2, simd=simd, in_lanes=in_lanes,
                            options=HardwareOptions(whole_word_writes=True))
    assert unit.collects_words == ((fan_in, simd, in_lanes) in COLLECTED)
    actual = _simulate_layer(layer, 2, simd, in_lanes, inputs, stall=0.3, backpressure=0.3,
                             seed=fan_in, whole_word_writes=True)
    np.testing.assert_array_equal(actual, reference.layer_forward(layer, inputs))


def _output_cycles(unit, beats, out_beats):
    """Feed ``beats`` at full rate into ``unit``, always ready; return each output beat's cycle
    (counted from the first input beat's) and the cycle of every accepted input beat."""
    accepted, valid_at = [], []

    async def driver(ctx):
        cycle = 0
        for beat in beats:
            ctx.set(unit.i_stream.payload, beat)
            ctx.set(unit.i_stream.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(unit.i_stream.ready)
                cycle += 1
                if ready:
                    accepted.append(cycle - 1)
                    break
        ctx.set(unit.i_stream.valid, 0)

    async def monitor(ctx):
        ctx.set(unit.o_stream.ready, 1)
        cycle = 0
        while len(valid_at) < out_beats:
            _, _, valid = await ctx.tick().sample(unit.o_stream.valid)
            if valid:
                valid_at.append(cycle)
            cycle += 1
            assert cycle < 100_000

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run()
    return valid_at, accepted


@pytest.mark.parametrize("fan_in, fan_out, pe, simd, in_lanes", [
    (20, 4, 1, 6, 4),     # compute-bound: NF * SF = 16 > 5 beats
    (144, 4, 2, 36, 16),  # compute-bound, two columns, rotation
    (16, 2, 1, 4, 1),     # input-bound: 16 beats > NF * SF = 8
    (16, 4, 4, 16, 8),    # SF = 1, NF = 1
    (15, 6, 3, 4, 3),     # coprime lanes, compute-bound 8 vs 5 beats
    (24, 2, 1, 4, 8),     # SIMD divides in_lanes: three columns
])
def test_mvu_back_to_back_vectors_at_full_rate(fan_in, fan_out, pe, simd, in_lanes):
    rng = np.random.default_rng(fan_in + simd)
    layer = random_layer(rng, fan_in, fan_out, BIPOLAR, scores=False)
    unit = MatrixVectorUnit(lower_layer(layer), pe=pe, simd=simd, in_lanes=in_lanes)
    vectors, beats_per_vector = 5, fan_in // in_lanes
    nf_count, sf_count = unit.neuron_folds, unit.synapse_folds
    codes = BIPOLAR.to_code(random_inputs(BIPOLAR, rng, vectors, fan_in))
    beats = [[int(c) for c in row[i:i + in_lanes]]
             for row in codes for i in range(0, fan_in, in_lanes)]
    valid_at, accepted = _output_cycles(unit, beats, vectors * nf_count)
    # the buffer takes one beat a cycle while a bank is free
    assert accepted[:beats_per_vector] == list(range(beats_per_vector))
    # first result: the vector's beats, its first fold's SF steps, issue and output registers
    assert valid_at[0] == beats_per_vector + sf_count + 1
    # steady state: one fold every SF cycles, no bubble between vectors when compute-bound;
    # a new vector every fan_in / in_lanes cycles when the input is the bottleneck
    period = max(unit.cycles_per_vector, beats_per_vector)
    firsts = valid_at[::nf_count]
    assert [b - a for a, b in zip(firsts, firsts[1:])] == [period] * (vectors - 1)
    for v in range(vectors):
        folds = valid_at[v * nf_count:(v + 1) * nf_count]
        assert [b - a for a, b in zip(folds, folds[1:])] == [sf_count] * (nf_count - 1)


@pytest.mark.parametrize("fan_in", [12, 10])
def test_mvu_every_simd_and_lane_count_of_a_small_layer(fan_in):
    rng = np.random.default_rng(fan_in)
    layer = random_layer(rng, fan_in, 2, uint(2), scores=True)
    inputs = random_inputs(uint(2), rng, 4, fan_in)
    expected = reference.layer_forward(layer, inputs)
    for simd in range(1, fan_in + 1):
        for in_lanes in _divisors(fan_in):
            actual = _simulate_layer(layer, 1, simd, in_lanes, inputs, stall=0.3,
                                     backpressure=0.3, seed=simd * 100 + in_lanes)
            np.testing.assert_array_equal(actual, expected,
                                          err_msg=f"SIMD {simd}, in_lanes {in_lanes}")
