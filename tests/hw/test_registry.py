"""The registries: every layer kind and output rule has its hardware, every precision pair one
dot kind, and the generator asks them instead of testing names."""

import re

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from qnnforge.hw.compiler.dots import DOT_KINDS, UnsupportedPrecisionError, dot_for
from qnnforge.hw.compiler.layers import HARDWARE_KINDS, hardware_for
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.compiler.outputs import STAGES
from qnnforge.sw.encoding import BIPOLAR, TERNARY, codebook, sint, ttq, uint
from qnnforge.sw.errors import QnnforgeError
from qnnforge.sw.layers import LAYER_KINDS
from qnnforge.sw.outputs import OUTPUT_RULES

from .layers import random_network


def test_every_layer_kind_has_its_hardware():
    assert set(HARDWARE_KINDS) == set(LAYER_KINDS)
    for op, kind in HARDWARE_KINDS.items():
        assert kind.op == op == LAYER_KINDS[op].op


def test_every_output_rule_has_a_stage():
    assert list(STAGES) == list(OUTPUT_RULES)


ENCODINGS = [BIPOLAR, TERNARY, uint(1), uint(4), sint(2), sint(8), ttq(3, 5),
             codebook(2, (-9, 4, 100))]


@pytest.mark.parametrize("inputs", [BIPOLAR, uint(1), uint(4), sint(8)])
@pytest.mark.parametrize("weights", ENCODINGS)
def test_at_most_one_dot_kind_accepts_a_precision_pair(inputs, weights):
    accepting = [kind.name for kind in DOT_KINDS if kind.accepts(inputs, weights)]
    if inputs == BIPOLAR and weights != BIPOLAR:
        assert accepting == []
        with pytest.raises(UnsupportedPrecisionError,
                           match=rf"^layer 'fc1': {re.escape(str(weights))} weights with "
                                 rf"bipolar inputs have no "
                                 rf"hardware implementation$"):
            dot_for("layer 'fc1'", inputs, weights)
    else:
        assert len(accepting) == 1
        assert dot_for("layer 'fc1'", inputs, weights).name == accepting[0]
    assert issubclass(UnsupportedPrecisionError, QnnforgeError)


def test_dot_kinds_of_each_pair():
    assert dot_for("l", BIPOLAR, BIPOLAR).name == "xnor"
    assert dot_for("l", uint(4), BIPOLAR).name == "binary_weight"
    assert dot_for("l", uint(1), BIPOLAR).name == "xnor_uint1"
    assert dot_for("l", uint(1), TERNARY).name == "ternary"
    assert dot_for("l", uint(4), TERNARY).name == "ternary"
    assert dot_for("l", sint(8), sint(4)).name == "fixed"
    assert dot_for("l", uint(4), uint(3)).name == "fixed"
    # what the cost explorer asks instead of testing encodings
    assert dot_for("l", uint(4), ttq(3, 5)).name == "ttq"
    assert dot_for("l", uint(2), codebook(3, (1, 2))).name == "codebook"
    assert [(kind.name, kind.counts, kind.multiplies) for kind in DOT_KINDS] == [
        ("xnor", True, False), ("xnor_uint1", True, False),
        ("binary_weight", False, False), ("ternary", False, False),
        ("fixed", False, True), ("ttq", False, False), ("codebook", False, True)]


def test_table_kinds_are_bound_to_their_weight_table():
    kind = dot_for("l", uint(4), ttq(3, 5))
    assert kind.weight_encoding == ttq(3, 5)
    assert kind == dot_for("l", uint(2), ttq(3, 5)) != dot_for("l", uint(2), ttq(5, 3))
    unit, _ = kind.build(4, unsigned(4), signed(2), HardwareOptions())
    assert unit.scales == (5, 3)  # (Wp, Wn) of values (-3, 0, 5)
    codebook_kind = dot_for("l", uint(4), codebook(3, (-9, 4, 100)))
    assert codebook_kind.weight_encoding.values == (-9, 4, 100)
    unbound = [k for k in DOT_KINDS if k.name == "codebook"][0]
    with pytest.raises(ValueError, match=r"^the codebook dot kind needs its weight table: bind it "
                                         r"to a weight encoding first$"):
        unbound.weight_encoding
    with pytest.raises(ValueError, match=r"^the ttq dot kind has no multiplier per lane$"):
        kind.lane(unsigned(4), signed(2), True)


def test_xnor_padding_and_score_map_invert_the_count():
    xnor = dot_for("l", BIPOLAR, BIPOLAR)
    # a = 2P - K: the score map and the count-domain bounds agree with the dot product
    fan_in = 9
    limits = np.arange(-fan_in - 1, fan_in + 2)
    weights = np.ones((len(limits), fan_in), np.int64)
    for count in range(fan_in + 1):
        np.testing.assert_array_equal(xnor.score_scale * count + xnor.offsets(weights),
                                      2 * count - fan_in)
    for flip in (0, 1):
        bounds = xnor.accumulator_bounds(limits, np.full(limits.shape, flip), weights)
        for count in range(fan_in + 1):
            dot = 2 * count - fan_in
            passed = count <= bounds if flip else count >= bounds
            np.testing.assert_array_equal(passed, dot <= limits if flip else dot >= limits)
    assert xnor.neutral_code == 1


def test_unsigned_xnor_counts_give_the_dot_product_of_every_input():
    # a = P - N[c] for every uint1 input u, P the XNOR count of the bit u against the weight
    # bits, N[c] the -1 weights of row c; the neutral (padding) code changes neither
    kind = dot_for("l", uint(1), BIPOLAR)
    rng = np.random.default_rng(4)
    fan_in = 6
    weights = rng.choice([-1, 1], size=(5, fan_in))
    weights[0], weights[1] = -1, 1
    np.testing.assert_array_equal(kind.offsets(weights),
                                  -np.count_nonzero(weights == -1, axis=1))
    w_bits = (weights == 1).astype(np.int64)
    limits = np.arange(-fan_in - 1, fan_in + 2)
    for u in np.ndindex(*(2,) * fan_in):
        u = np.array(u + (0,))  # a padding lane: input code 0, the neutral weight code
        padded = np.concatenate([w_bits, np.full((len(weights), 1), kind.neutral_code)], 1)
        count = np.count_nonzero(padded == u, axis=1)
        dot = weights @ u[:fan_in]
        np.testing.assert_array_equal(kind.score_scale * count + kind.offsets(weights), dot)
        for flip in (0, 1):
            rows = np.broadcast_to(limits, (len(weights), len(limits)))
            bounds = kind.accumulator_bounds(rows, np.full(rows.shape, flip), weights)
            passed = count[:, None] <= bounds if flip else count[:, None] >= bounds
            expected = dot[:, None] <= rows if flip else dot[:, None] >= rows
            np.testing.assert_array_equal(passed, expected)
    assert kind.counts and kind.neutral_code == 1


def test_layer_kind_summary_names_its_op_and_dot():
    artifact = random_network(np.random.default_rng(3), [12, 8, 6, 4])
    for layer in artifact.layers:
        kind = hardware_for(layer)
        folding = kind.fold(layer, 64, 1, 1)
        entry = kind.summary(kind.lower(layer), folding, 1)
        assert entry["op"] == layer.op
        assert entry["cycles_per_vector"] == kind.cycles(layer, folding, 1)
        assert kind.latency(layer, folding, 1, HardwareOptions()) == entry["cycles_per_vector"] + 2
        # pipelined every adder level: a register per level of the SIMD lanes' tree (none for
        # one or two lanes, one group), and the result's
        pipelined = kind.latency(layer, folding, 1, HardwareOptions(pipeline=1))
        levels = (folding.simd - 1).bit_length()
        assert pipelined == entry["cycles_per_vector"] + 2 + (levels if levels > 1 else 0) + 1
