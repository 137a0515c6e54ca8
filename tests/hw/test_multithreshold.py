"""The multi-threshold unit counts the thresholds an accumulator passes, both directions."""

import numpy as np
import pytest
from amaranth.hdl import signed
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.multithreshold import MultiThreshold
from qnnforge.sw import reference

from .simulate import run_comb


@settings(max_examples=25, deadline=None)
@given(bits=st.integers(1, 4), bound=st.integers(1, 200), seed=st.integers(0, 2**16))
def test_multithreshold_matches_reference(bits, bound, seed):
    levels = (1 << bits) - 1
    rng = np.random.default_rng(seed)
    dut = MultiThreshold(signed(10), signed(10), levels)
    cases, expected = [], []
    for _ in range(8):
        direction = int(rng.choice([-1, 1]))
        thresholds = np.sort(rng.integers(-bound - 1, bound + 2, size=levels))
        acc = int(rng.choice([-bound, bound, int(thresholds[0]), int(rng.integers(-bound,
                                                                                  bound + 1))]))
        acc = max(-bound, min(bound, acc))
        # the hardware compares acc <= -t when the direction is -1
        bounds = thresholds if direction > 0 else -thresholds
        cases.append({"acc": acc, "bounds": [int(b) for b in bounds], "flip": int(direction < 0)})
        expected.append(int(reference.multithreshold(np.array([acc]), thresholds[None],
                                                     np.array([direction]))[0]))
    results = iter(expected)
    run_comb(dut, cases, lambda ctx, case: _assert(ctx.get(dut.y), next(results)))


def _assert(actual, expected):
    assert actual == expected


def test_thresholds_at_the_boundary_are_passed():
    dut = MultiThreshold(signed(6), signed(6), 3)
    cases = [{"acc": 5, "bounds": [5, 5, 6], "flip": 0},
             {"acc": 5, "bounds": [5, 5, 6], "flip": 1},
             {"acc": -20, "bounds": [-20, 21, 21], "flip": 0}]
    expected = iter([2, 3, 1])
    run_comb(dut, cases, lambda ctx, case: _assert(ctx.get(dut.y), next(expected)))


def test_multithreshold_rejects_bad_levels():
    with pytest.raises(TypeError, match=r"^MultiThreshold levels must be a positive integer, "
                                        r"not 0$"):
        MultiThreshold(signed(4), signed(4), 0)
