"""Runtime-writable weights: the matrix-vector unit loads new weights between vectors."""

import dataclasses

import numpy as np
import pytest

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.compiler.network import Network
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.compiler.plan import default_folding
from qnnforge.hw.cores.mvu import MatrixVectorUnit
from qnnforge.sw import reference
from qnnforge.sw.encoding import BIPOLAR, codebook, uint

from .layers import (mixed_layer, random_cnn, random_inputs, random_layer, random_network,
                     reweighted, reweighted_layer)
from .simulate import collect_beats, push_beats, simulate

WRITABLE = HardwareOptions(writable_weights=True)


def _run(unit, layer, inputs, w_beats, *, load_after=0, stall=0.0, backpressure=0.0, seed=0):
    """Stream ``inputs`` into ``unit`` and, once ``load_after`` vectors are in, ``w_beats``
    into its ``w_stream`` alongside the rest; return the output vectors and how many input
    vectors had been taken when the load's last beat was."""
    rng = np.random.default_rng(seed)
    in_lanes = unit.in_lanes
    codes = layer.input_encoding.to_code(inputs)
    vectors = [[[int(c) for c in row[i:i + in_lanes]] for i in range(0, len(row), in_lanes)]
               for row in codes]
    taken, loaded, received = [0], [], []

    async def inputs_driver(ctx):
        for vector in vectors:
            await push_beats(ctx, unit.i_stream, vector, rng, stall)
            taken[0] += 1

    async def weights_driver(ctx):
        while taken[0] < load_after:
            await ctx.tick()
        # stalls inside the load only: its first beat comes as soon as it is due
        await push_beats(ctx, unit.w_stream, w_beats, rng, stall, first_unstalled=True)
        loaded.append(taken[0])

    async def monitor(ctx):
        await collect_beats(ctx, unit.o_stream, received, len(inputs) * unit.neuron_folds,
                            rng, backpressure, read=lambda payload: [int(v) for v in payload])

    simulate(unit, inputs_driver, weights_driver, monitor)
    values = np.array(received).reshape(len(inputs), layer.out_features)
    encoding = layer.output_encoding
    return (values if encoding is None else encoding.from_code(values)), loaded[0]


@pytest.mark.parametrize("fan_in, fan_out, pe, simd, in_lanes, encoding", [
    (16, 8, 4, 16, 4, BIPOLAR),   # one step per fold: SF = 1
    (20, 6, 3, 6, 4, BIPOLAR),    # SIMD does not divide the fan-in: padding lanes
    (12, 4, 1, 3, 3, uint(3)),    # one PE, add/subtract lanes
    (9, 2, 2, 9, 9, BIPOLAR),     # a single step: NF = SF = 1
])
def test_a_load_before_the_first_vector_computes_every_vector_with_the_new_weights(
        fan_in, fan_out, pe, simd, in_lanes, encoding):
    rng = np.random.default_rng(fan_in * fan_out)
    old = random_layer(rng, fan_in, fan_out, encoding, scores=False)
    new = reweighted_layer(old, rng)
    unit = MatrixVectorUnit(lower_layer(old), pe=pe, simd=simd, in_lanes=in_lanes,
                            options=WRITABLE)
    inputs = random_inputs(encoding, rng, 4, fan_in)
    beats = unit.weight_beats(lower_layer(new))
    assert len(beats) == unit.neuron_folds * unit.synapse_folds * pe
    actual, _ = _run(unit, old, inputs, beats, stall=0.3, backpressure=0.3, seed=fan_in)
    np.testing.assert_array_equal(actual, reference.layer_forward(new, inputs))
    assert not np.array_equal(actual, reference.layer_forward(old, inputs))


@pytest.mark.parametrize("seed", range(4))
def test_a_load_amid_vectors_gives_each_vector_the_old_or_the_new_weights_whole(seed):
    rng = np.random.default_rng(seed)
    old = random_layer(rng, 24, 6, BIPOLAR, scores=True)
    new = reweighted_layer(old, rng)
    unit = MatrixVectorUnit(lower_layer(old), pe=2, simd=8, in_lanes=4, options=WRITABLE)
    inputs = random_inputs(BIPOLAR, rng, 8, 24)
    actual, loaded = _run(unit, old, inputs, unit.weight_beats(lower_layer(new)),
                          load_after=2, stall=0.3, backpressure=0.3, seed=seed)
    before, after = reference.layer_forward(old, inputs), reference.layer_forward(new, inputs)
    which = []
    for row, a, b in zip(actual, before, after):
        assert np.array_equal(row, a) or np.array_equal(row, b), "a vector mixed weights"
        which.append("old" if np.array_equal(row, a) and not np.array_equal(row, b) else
                     "new" if np.array_equal(row, b) and not np.array_equal(row, a) else "any")
    firm = [w for w in which if w != "any"]
    assert firm == sorted(firm, key=lambda w: w == "new"), which  # old ones, then new ones
    # vector 0 was being issued when the load began; vector 1, complete but waiting for a
    # bank to issue it, may be held back for the new weights
    assert which[0] == "old"
    assert all(w in ("new", "any") for w in which[loaded:])  # taken after its last beat


def test_without_the_option_the_unit_has_no_weight_stream_and_refuses_other_layers():
    rng = np.random.default_rng(5)
    layer = random_layer(rng, 8, 4, BIPOLAR, scores=False)
    fixed = MatrixVectorUnit(lower_layer(layer), pe=2, simd=4, in_lanes=4)
    assert "w_stream" not in fixed.signature.members
    unit = MatrixVectorUnit(lower_layer(layer), pe=2, simd=4, in_lanes=4, options=WRITABLE)
    assert unit.signature.members["w_stream"].signature.members["payload"].shape.width == 4
    wider = random_layer(rng, 8, 8, BIPOLAR, scores=False)
    with pytest.raises(ValueError, match=r"^layer 'layer': the loaded layer's fan_out is 8, "
                                         r"not 4$"):
        unit.weight_beats(lower_layer(wider))
    other = random_layer(rng, 8, 4, BIPOLAR, scores=False)
    with pytest.raises(ValueError, match=r"^layer 'layer': the loaded layer's output constants "
                                         r"differ from the built ones; only weights can be "
                                         r"loaded$"):
        unit.weight_beats(lower_layer(other))


def test_writable_weights_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^writable_weights must be a bool, not 1$"):
        HardwareOptions(writable_weights=1)


# --- the whole network ---------------------------------------------------------------------------

def _classify_load_classify(network, inputs, w_beats, seed):
    """Classify ``inputs``, load ``w_beats`` once every result is out, classify them again;
    return the two lists of ``(class, scores)``, under random stalls and backpressure."""
    rng = np.random.default_rng(seed)
    lanes = network.folding.input_lanes
    beats = [[int(c) for c in row[i:i + lanes]]
             for row in inputs for i in range(0, inputs.shape[1], lanes)]
    received = []

    async def driver(ctx):
        await push_beats(ctx, network.i_stream, beats, rng, 0.3)
        while len(received) < len(inputs):
            await ctx.tick()
        await push_beats(ctx, network.w_stream, w_beats, rng, 0.3)
        await push_beats(ctx, network.i_stream, beats, rng, 0.3)

    async def monitor(ctx):
        await collect_beats(ctx, network.o_stream, received, 2 * len(inputs), rng, 0.3,
                            read=lambda payload: (int(payload.cls),
                                                  [int(s) for s in payload.scores]))

    simulate(network, driver, monitor)
    return received[:len(inputs)], received[len(inputs):]


@pytest.mark.parametrize("kind", ["dense", "binary-cnn", "fixed-cnn"])
def test_a_network_loaded_with_new_weights_classifies_like_their_reference(kind):
    rng = np.random.default_rng(21)
    if kind == "dense":
        old = random_network(rng, [12, 8, 6, 3], input_bits=3)
    else:
        old = random_cnn(rng, kind.split("-")[0])
    new = reweighted(old, rng)
    folding = default_folding(old.layers, 200)
    network = Network(old, folding, options=WRITABLE)
    w_beats = network.weight_beats(new)
    assert len(w_beats) == sum(unit.load_beats for unit in network.units
                               if "w_stream" in unit.signature.members)
    inputs = random_inputs(old.input.encoding, rng, 3, old.in_features)
    first, second = _classify_load_classify(network, inputs, w_beats, seed=len(kind))
    for results, artifact in ((first, old), (second, new)):
        trace = reference.run(artifact, inputs)
        assert [c for c, _ in results] == trace.classes.tolist()
        assert [s for _, s in results] == trace.scores.tolist()
    assert reference.run(old, inputs).scores.tolist() != reference.run(new, inputs).scores.tolist()


def test_network_weight_beats_name_what_cannot_be_loaded():
    rng = np.random.default_rng(4)
    artifact = random_network(rng, [8, 6, 3])
    folding = default_folding(artifact.layers, 100)
    with pytest.raises(ValueError, match=r"^the network was built without writable weights "
                                         r"\(HardwareOptions\.writable_weights\)$"):
        Network(artifact, folding).weight_beats(artifact)
    network = Network(artifact, folding, options=WRITABLE)
    assert network.signature.members["w_stream"].signature.members["payload"].shape.width == max(
        fold.simd for fold in folding.layers)
    other = random_network(rng, [8, 6, 3])
    with pytest.raises(ValueError, match=r"^layer 'fc0': the loaded layer's output constants "
                                         r"differ from the built ones; only weights can be "
                                         r"loaded$"):
        network.weight_beats(other)
    with pytest.raises(ValueError, match=r"^layer 'fc0': the loaded layer's fan_out is 5, not 6$"):
        network.weight_beats(random_network(rng, [8, 5, 3]))


def test_a_layer_with_another_weight_table_is_refused():
    # a codebook layer's table is built into its dot units: loading indices meant for another
    # table would compute with the wrong values
    rng = np.random.default_rng(6)
    built = mixed_layer(rng, 8, 4, uint(2), codebook(2, (-3, -1, 1, 3)), "scores")
    unit = MatrixVectorUnit(lower_layer(built), pe=2, simd=4, in_lanes=4, options=WRITABLE)
    assert len(unit.weight_beats(lower_layer(reweighted_layer(built, rng)))) == unit.load_beats
    other = dataclasses.replace(built, weight_encoding=codebook(2, (-3, -2, 2, 3)),
                                weights=np.where(np.abs(built.weights) == 1,
                                                 2 * built.weights, built.weights))
    with pytest.raises(ValueError, match=r"^layer 'layer': the loaded layer's dot product \(or "
                                         r"its weight table\) or output stage differs from the "
                                         r"built one$"):
        unit.weight_beats(lower_layer(other))
