"""The integer reference model against plain Python loops, and its input checks."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from qnnforge.sw.artifact import ThresholdActivation
from qnnforge.sw.reference import argmax, dense, layer_forward, predict, run, threshold

from .conftest import artifacts, tiny_artifact


def loop_dense(x, weights):
    return [[sum(int(xi) * int(wi) for xi, wi in zip(row, w)) for w in weights] for row in x]


def loop_threshold(acc, thresholds, directions):
    return [[1 if int(d) * int(a) >= int(t) else -1 for a, t, d in zip(row, thresholds, directions)]
            for row in acc]


def loop_argmax(scores):
    classes = []
    for row in scores:
        best = 0
        for index, value in enumerate(row):
            if value > row[best]:  # strictly greater: the first maximum wins
                best = index
        classes.append(best)
    return classes


def loop_network(artifact, x):
    outputs = []
    for layer in artifact.layers:
        acc = loop_dense(x, layer.weights)
        if isinstance(layer.output, ThresholdActivation):
            x = loop_threshold(acc, layer.output.thresholds, layer.output.directions)
        else:
            x = [[a + int(b) for a, b in zip(row, layer.output.bias)] for row in acc]
        outputs.append(x)
    return outputs, loop_argmax(x)


def _matrix(draw, rows, cols, low, high):
    return np.array(draw(st.lists(st.lists(st.integers(low, high), min_size=cols, max_size=cols),
                                  min_size=rows, max_size=rows)), dtype=np.int64).reshape(rows, cols)


@given(st.data(), st.integers(0, 6), st.integers(1, 9), st.integers(1, 7))
def test_dense_matches_loops(data, n, fan_in, fan_out):
    x = _matrix(data.draw, n, fan_in, -300, 300)
    weights = _matrix(data.draw, fan_out, fan_in, -1, 1)
    acc = dense(x, weights)
    assert acc.dtype == np.int64 and acc.shape == (n, fan_out)
    np.testing.assert_array_equal(acc, np.array(loop_dense(x, weights)).reshape(n, fan_out))


@given(st.data(), st.integers(1, 6), st.integers(1, 7))
def test_threshold_matches_loops(data, n, channels):
    acc = _matrix(data.draw, n, channels, -12, 12)
    thresholds = _matrix(data.draw, 1, channels, -13, 13)[0]
    directions = _matrix(data.draw, 1, channels, 0, 1)[0] * 2 - 1
    y = threshold(acc, thresholds, directions)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, loop_threshold(acc, thresholds, directions))


def test_threshold_fires_on_equality_in_both_directions():
    np.testing.assert_array_equal(threshold(np.array([[5, 5, 4, -5, -4]]), np.array([5, -5, 5, 5, 5]),
                                            np.array([1, -1, 1, -1, -1])),
                                  [[1, 1, -1, 1, -1]])


@given(st.data(), st.integers(1, 8), st.integers(1, 6))
def test_argmax_matches_loops(data, n, classes):
    # A narrow value range makes ties frequent.
    scores = _matrix(data.draw, n, classes, -2, 2)
    np.testing.assert_array_equal(argmax(scores), loop_argmax(scores.tolist()))


@pytest.mark.parametrize("row, expected", [
    ([3, 5, 5, 1], 1), ([7, 7, 7], 0), ([-4, -9, -4], 0), ([0, 1, 2, 2], 2), ([9], 0),
])
def test_argmax_ties_go_to_the_lowest_index(row, expected):
    assert argmax(np.array([row])).tolist() == [expected]


@given(artifacts(), st.data())
def test_run_matches_loops(artifact, data):
    n = data.draw(st.integers(1, 5))
    x = _matrix(data.draw, n, artifact.in_features, 0, artifact.input.encoding.max)
    trace = run(artifact, x)
    outputs, classes = loop_network(artifact, x.tolist())
    assert len(trace.outputs) == len(artifact.layers)
    for got, want, layer in zip(trace.outputs, outputs, artifact.layers):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.array(want).reshape(n, layer.out_features))
        np.testing.assert_array_equal(layer_forward(layer, x if layer is artifact.layers[0]
                                                    else previous), got)
        previous = got
    np.testing.assert_array_equal(trace.inputs, x)
    np.testing.assert_array_equal(trace.scores, trace.outputs[-1])
    np.testing.assert_array_equal(trace.classes, classes)


@given(artifacts(), st.data())
def test_predict_quantizes_then_runs(artifact, data):
    rule = artifact.input
    raw = _matrix(data.draw, 3, artifact.in_features, rule.raw_min, rule.raw_max)
    rounding = (1 << (rule.shift - 1)) if rule.shift else 0
    quantized = [[min((int(v) * rule.multiplier + rounding) >> rule.shift, rule.encoding.max)
                  for v in row] for row in raw]
    np.testing.assert_array_equal(predict(artifact, raw), loop_network(artifact, quantized)[1])


def test_run_on_the_tiny_network_by_hand():
    # fc0: acc0 = x0 - x1 + x2 + x3 against 7 (fires at 7); channel 1 (-acc1 >= -60) always fires,
    # channel 2 (acc2 >= 61) never. fc1: scores = [a0 - a1 + a2 + 2, -a0 + a1 + a2 - 3].
    trace = run(tiny_artifact(), np.array([[7, 0, 0, 0], [6, 0, 0, 0], [15, 15, 15, 15]]))
    np.testing.assert_array_equal(trace.outputs[0], [[1, 1, -1], [-1, 1, -1], [1, 1, -1]])
    np.testing.assert_array_equal(trace.scores, [[1, -4], [-1, -2], [1, -4]])
    np.testing.assert_array_equal(trace.classes, [0, 0, 0])


@pytest.mark.parametrize("x, error, message", [
    (np.zeros(4, dtype=np.int64), ValueError, r"^inputs must have shape \(n, 4\), not \(4,\)$"),
    (np.zeros((2, 5), dtype=np.int64), ValueError,
     r"^inputs must have shape \(n, 4\), not \(2, 5\)$"),
    (np.zeros((1, 2, 4), dtype=np.int64), ValueError,
     r"^inputs must have shape \(n, 4\), not \(1, 2, 4\)$"),
    (np.array([[0, 16, 0, 0]]), ValueError, r"^inputs must be uint4 integers$"),
    (np.array([[0, -1, 0, 0]]), ValueError, r"^inputs must be uint4 integers$"),
    (np.zeros((1, 4), dtype=np.float64), ValueError, r"^inputs must be uint4 integers$"),
    (np.zeros((1, 4), dtype=bool), ValueError, r"^inputs must be uint4 integers$"),
])
def test_run_rejects_bad_inputs(x, error, message):
    with pytest.raises(error, match=message):
        run(tiny_artifact(), x)


def test_predict_rejects_out_of_range_raw_features():
    with pytest.raises(ValueError, match=r"^raw features must lie in 0\.\.16, not 0\.\.20$"):
        predict(tiny_artifact(), np.array([[0, 20, 0, 0]]))


# --- Boundary values drawn on purpose (each found by a surviving mutant of bench/mutants.py) ---

def test_windows_use_the_vertical_stride_down_and_the_horizontal_one_across():
    from qnnforge.sw.reference import windows
    # a 4x5 image of its own pixel numbers, kernel 2x2, stride 2 down and 1 across:
    # 2 windows down (rows 0-1, 2-3) and 4 across (columns 0-1, 1-2, 2-3, 3-4)
    image = np.arange(20).reshape(1, 4, 5, 1)
    out = windows(image, (2, 2), (2, 1))
    assert out.shape == (1, 2, 4, 2, 2, 1)
    np.testing.assert_array_equal(out[0, 1, 3, :, :, 0], [[13, 14], [18, 19]])
    np.testing.assert_array_equal(out[0, 0, 1, :, :, 0], [[1, 2], [6, 7]])
    # and the other way round: 1 down, 3 across
    out = windows(image, (2, 2), (1, 3))
    assert out.shape == (1, 3, 2, 2, 2, 1)
    np.testing.assert_array_equal(out[0, 2, 1, :, :, 0], [[13, 14], [18, 19]])


def test_multithreshold_counts_a_level_met_with_equality():
    from qnnforge.sw.reference import multithreshold
    thresholds = np.array([[-2, 0, 3], [-2, 0, 3]])
    # acc equal to each threshold passes that level (>=), in both directions
    acc = np.array([[-2, 2], [0, 0], [3, -3], [-3, 3]])
    np.testing.assert_array_equal(multithreshold(acc, thresholds, np.array([1, -1])),
                                  [[1, 1], [2, 2], [3, 3], [0, 0]])


def _rule(multiplier, shift, offset, zero_point, bits=4):
    from qnnforge.sw.artifact import RequantizeOutput
    from qnnforge.sw.encoding import uint
    return RequantizeOutput(np.array(multiplier), np.array(shift), np.array(offset),
                            np.array(zero_point), uint(bits))


def test_requantize_by_hand_with_ties_zero_point_and_saturation():
    from qnnforge.sw.reference import requantize
    # y = clamp(((acc * m + offset) >> shift) + zp, 0, 15); offset 2 = 2**(3-1) rounds half up
    rule = _rule([3, 3, 1, 1], [3, 3, 0, 0], [4, 4, 0, 0], [5, 0, 0, 0])
    acc = np.array([[4, 4, 15, 16],     # (12+4)>>3 = 2, +5 = 7; 2; 15 (the top); 16 -> 15
                    [-8, 1, -1, 0],     # (-24+4)>>3 = -3 (floor), +5 = 2; (3+4)>>3 = 0; -1 -> 0
                    [20, -20, 14, 0]])  # (60+4)>>3 = 8, +5 = 13; -7 -> 0; 14; 0
    np.testing.assert_array_equal(requantize(acc, rule), [[7, 2, 15, 15], [2, 0, 0, 0],
                                                          [13, 0, 14, 0]])


def test_requantize_rounds_ties_up_and_floors_below():
    from qnnforge.sw.reference import requantize
    # multiplier 1, shift 2, offset 2: acc/4 rounded half up; zero point 8 keeps it in 0..15
    rule = _rule([1], [2], [2], [8])
    acc = np.array([[2], [1], [-2], [-3], [6], [-6]])
    # (2+2)>>2 = 1; (1+2)>>2 = 0; (-2+2)>>2 = 0; (-3+2)>>2 = -1; (6+2)>>2 = 2; (-6+2)>>2 = -1
    np.testing.assert_array_equal(requantize(acc, rule)[:, 0], [9, 8, 8, 7, 10, 7])
