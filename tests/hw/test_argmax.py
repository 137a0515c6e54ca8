"""The argmax stage: lowest index wins ties, scores pass through, backpressure is safe."""

import numpy as np
import pytest
from amaranth.hdl import signed

from qnnforge.hw.cores.argmax import Argmax
from qnnforge.sw import reference

from .simulate import run_stream


@pytest.mark.parametrize("pipelined", [False, True], ids=["chain", "tree"])
@pytest.mark.parametrize("classes, lanes", [(10, 1), (10, 5), (10, 10), (6, 2)])
def test_argmax_matches_numpy_with_ties(classes, lanes, pipelined):
    rng = np.random.default_rng(classes * lanes)
    scores = rng.integers(-4, 4, size=(40, classes))  # narrow range: many ties
    scores[0] = 3  # all equal: class 0
    scores[1] = -8
    scores[1, -1] = 7  # maximum in the last lane of the last beat
    scores[2] = -16  # all the shape's minimum: class 0
    scores[3, 1:] = -16  # the minimum everywhere but class 0
    unit = Argmax(signed(5), classes, lanes, pipelined=pipelined)
    beats = [list(map(int, row[i:i + lanes])) for row in scores for i in range(0, classes, lanes)]
    results = run_stream(unit, beats, len(scores), stall=0.3, backpressure=0.5, seed=lanes)
    np.testing.assert_array_equal([int(r.cls) for r in results], reference.argmax(scores))
    np.testing.assert_array_equal([[int(s) for s in r.scores] for r in results], scores)


def test_argmax_rejects_lanes_not_dividing_classes():
    with pytest.raises(ValueError, match=r"^Argmax lanes must divide classes \(10\), not 3$"):
        Argmax(signed(5), 10, 3)


@pytest.mark.parametrize("stall, backpressure", [(0.0, 0.0), (0.5, 0.5)],
                         ids=["full-rate", "stalled"])
def test_pipelined_argmax_keeps_the_first_maximum_across_beats(stall, backpressure):
    # 3 beats of 2 lanes: the running maximum is `prev` (the last beat's winner) or `rest` (the
    # best before it); a later beat equal to either must not take its place
    scores = np.array([
        [5, 0, 3, 3, 5, 5],  # best in beat 0, held in `rest` when beat 2 ties it: class 0
        [1, 0, 7, 0, 7, 7],  # best in beat 1 (`prev`), tied by beat 2: class 2
        [0, 1, 0, 1, 0, 1],  # every beat ties lane 1 of beat 0: class 1
        [-8, -8, -8, -8, -8, 7],  # the last lane of the last beat: class 5
        [2, 6, 6, 1, 5, 6],  # beat 1 ties beat 0's winner (`prev`): class 1
        [4, 4, 1, 0, 4, 4],  # beat 2 ties `rest` after a lower beat 1: class 0
    ])
    beats = [list(map(int, row[i:i + 2])) for row in scores for i in range(0, 6, 2)]
    results = run_stream(Argmax(signed(5), 6, 2, pipelined=True), beats, len(scores),
                         stall=stall, backpressure=backpressure, seed=11)
    assert [int(r.cls) for r in results] == [0, 2, 1, 5, 1, 0]
    np.testing.assert_array_equal([[int(s) for s in r.scores] for r in results], scores)
