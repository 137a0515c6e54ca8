"""The ternary dot product (add, subtract or skip per lane) against numpy, over random shapes."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.ternary_dot import TernaryDot

from .simulate import run_comb


@settings(max_examples=25, deadline=None)
@given(lanes=st.integers(1, 9), width=st.integers(1, 9), is_signed=st.booleans(),
       seed=st.integers(0, 2**16))
def test_ternary_dot_matches_numpy(lanes, width, is_signed, seed):
    if is_signed and width < 2:
        width = 2
    shape = signed(width) if is_signed else unsigned(width)
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if is_signed else (0, (1 << width) - 1)
    rng = np.random.default_rng(seed)
    cases = []
    for row in range(6):
        x = rng.integers(low, high + 1, size=lanes)
        w = rng.integers(-1, 2, size=lanes)
        if row == 0:
            x[:], w[:] = low, -1  # most negative times -1 everywhere: the largest sum
        if row == 1:
            x[:], w[:] = high, 1
        if row == 2:
            w[:] = 0
        cases.append({"x": [int(v) for v in x], "w": [int(v) for v in w]})
    dut = TernaryDot(lanes, shape)

    def check(ctx, case):
        assert ctx.get(dut.sum) == int(np.dot(case["x"], case["w"]))
    run_comb(dut, cases, check)


def test_ternary_dot_sum_is_wide_enough_for_the_worst_case():
    dut = TernaryDot(5, signed(4))
    assert dut.sum.shape() == signed(7)  # |sum| <= 5 * 8 = 40


def test_ternary_dot_rejects_bad_lanes():
    with pytest.raises(TypeError, match=r"^TernaryDot lanes must be a positive integer, not 0$"):
        TernaryDot(0, unsigned(4))
