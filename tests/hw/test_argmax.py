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
