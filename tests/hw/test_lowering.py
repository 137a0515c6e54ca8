"""Thresholds moved into the popcount domain decide exactly as in the dot-product domain."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.compiler.lowering import element_shape, signed_shape_for
from qnnforge.sw.artifact import DenseLayer, ScoreOutput, ThresholdActivation
from qnnforge.sw.encoding import BIPOLAR, sint, uint


@pytest.mark.parametrize("fan_in", [1, 2, 7, 8, 33])
def test_xnor_count_domain_thresholds_are_exact(fan_in):
    thresholds = np.arange(-fan_in, fan_in + 2)
    for direction in (1, -1):
        layer = DenseLayer("l", BIPOLAR, BIPOLAR, np.ones((len(thresholds), fan_in), np.int64),
                           ThresholdActivation(thresholds, np.full(len(thresholds), direction)))
        lowered = lower_layer(layer)
        for count in range(fan_in + 1):
            dot = 2 * count - fan_in
            hardware = np.where(lowered.output.flips == 1, count <= lowered.output.bounds,
                                count >= lowered.output.bounds)
            np.testing.assert_array_equal(hardware, direction * dot >= thresholds)
        low, high = lowered.output.bounds.min(), lowered.output.bounds.max()
        shape = lowered.output.bound_shape
        assert -(1 << (shape.width - 1)) <= low and high < (1 << (shape.width - 1))


def test_fixed_point_layer_keeps_the_dot_domain():
    thresholds = np.array([-5, 0, 7])
    layer = DenseLayer("l", uint(4), BIPOLAR, np.ones((3, 4), np.int64),
                       ThresholdActivation(thresholds, np.array([1, -1, 1])))
    lowered = lower_layer(layer)
    assert lowered.dot.name == "binary_weight"
    np.testing.assert_array_equal(lowered.output.bounds, [-5, 0, 7])
    np.testing.assert_array_equal(lowered.output.flips, [0, 1, 0])
    assert lowered.acc_shape == signed(7)  # |acc| <= 4 * 15 = 60


def test_xnor_scores_offset_by_fan_in_and_bias():
    layer = DenseLayer("out", BIPOLAR, BIPOLAR, np.ones((2, 10), np.int64),
                       ScoreOutput(np.array([3, -2])))
    lowered = lower_layer(layer)
    np.testing.assert_array_equal(lowered.output.offsets, [3 - 10, -2 - 10])
    assert lowered.output.scale == 2
    assert lowered.output_shape == signed(5)  # |score| <= 10 + 3


def test_shapes():
    assert element_shape(BIPOLAR) == unsigned(1)
    assert element_shape(uint(4)) == unsigned(4)
    assert element_shape(sint(3)) == signed(3)
    assert signed_shape_for(-1, 0) == signed(1)
    assert signed_shape_for(-129, 127) == signed(9)


def test_requantize_shifts_share_their_minimum_as_the_base():
    # every channel shifts by at least 3: the hardware shifts all by 3, then 0, 2 or 1 more
    from qnnforge.sw.artifact import RequantizeOutput
    rule = RequantizeOutput(np.array([5, -7, 3]), np.array([3, 5, 4]), np.array([4, 16, 8]),
                            np.array([1, 0, 2]), uint(4))
    layer = DenseLayer("l", uint(2), sint(3), np.ones((3, 4), np.int64), rule)
    stage = lower_layer(layer).output
    assert stage.shift_base == 3 and stage.max_shift == 2
    np.testing.assert_array_equal(stage.shift, [0, 2, 1])
    np.testing.assert_array_equal(stage.multiplier, [5, -7, 3])
    np.testing.assert_array_equal(stage.offset, [4, 16, 8])


def test_binary_first_layer_counts_and_shifts_its_constants_per_channel():
    # uint1 x bipolar: a = P - N[c]; bounds and score offsets move by N[c], the -1 weights
    weights = np.array([[1, 1, 1, 1, 1], [-1, 1, -1, 1, 1], [-1, -1, -1, -1, -1]])
    layer = DenseLayer("l", uint(1), BIPOLAR, weights,
                       ThresholdActivation(np.array([2, 0, -3]), np.array([1, -1, 1])))
    lowered = lower_layer(layer)
    assert lowered.dot.name == "xnor_uint1" and lowered.dot.counts
    assert lowered.acc_shape == unsigned(3)  # P <= 5
    # a >= 2 <=> P >= 2; -a >= 0 <=> P <= 2; a >= -3 <=> P >= 2
    np.testing.assert_array_equal(lowered.output.bounds, [2, 2, 2])
    scores = lower_layer(DenseLayer("out", uint(1), BIPOLAR, weights,
                                    ScoreOutput(np.array([3, -2, 0])))).output
    np.testing.assert_array_equal(scores.offsets, [3, -4, -5])
    assert scores.scale == 1


@pytest.mark.parametrize("inputs, scale, offsets", [
    (BIPOLAR, 2, [-4, -4]),  # a = 2P - 4
    (uint(1), 1, [0, -3]),  # a = P - N[c]
    (uint(2), 1, [0, 0]),  # the dot product itself
])
def test_requantize_constants_move_into_the_accumulator_domain(inputs, scale, offsets):
    # a * M + O = acc * (s * M) + (O + o[c] * M)
    from qnnforge.sw.artifact import RequantizeOutput
    rule = RequantizeOutput(np.array([5, -7]), np.array([3, 3]), np.array([4, 16]),
                            np.array([1, 0]), uint(4))
    weights = np.array([[1, 1, 1, 1], [-1, 1, -1, -1]])
    stage = lower_layer(DenseLayer("l", inputs, BIPOLAR, weights, rule)).output
    np.testing.assert_array_equal(stage.multiplier, [5 * scale, -7 * scale])
    np.testing.assert_array_equal(stage.offset, [4 + 5 * offsets[0], 16 - 7 * offsets[1]])
