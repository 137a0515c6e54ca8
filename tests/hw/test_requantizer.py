"""The requantizer (multiply, shift, round, saturate) against the reference rule."""

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hypothesis import given, settings, strategies as st

from qnnforge.hw.compiler.lowering import signed_shape_for
from qnnforge.hw.cores.requantizer import Requantizer
from qnnforge.sw import reference
from qnnforge.sw.artifact import RequantizeOutput
from qnnforge.sw.encoding import sint, uint

from .simulate import run_comb


@settings(max_examples=30, deadline=None)
@given(acc_bits=st.integers(2, 24), out_signed=st.booleans(), out_bits=st.integers(2, 16),
       base=st.integers(0, 20), max_shift=st.integers(0, 12), dsp=st.booleans(),
       seed=st.integers(0, 2**16))
def test_requantizer_matches_reference(acc_bits, out_signed, out_bits, base, max_shift, dsp,
                                       seed):
    rng = np.random.default_rng(seed)
    encoding = sint(out_bits) if out_signed else uint(out_bits)
    n = 10
    acc_low, acc_high = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    acc = rng.integers(acc_low, acc_high + 1, size=n)
    acc[:2] = acc_low, acc_high
    multiplier = rng.integers(-(1 << 15) + 1, 1 << 15, size=n)
    multiplier[0] = -(1 << 15) + 1  # most negative acc x most negative multiplier
    shift = base + rng.integers(0, max_shift + 1, size=n)
    offset = rng.integers(-(1 << 30), 1 << 30, size=n)
    zero_point = rng.integers(encoding.min, encoding.max + 1, size=n)
    rule = RequantizeOutput(multiplier, shift, offset, zero_point, encoding)
    expected = reference.requantize(acc, rule)
    dut = Requantizer(signed(acc_bits), signed(16), signed_shape_for(-(1 << 30), 1 << 30),
                      signed(out_bits) if out_signed else unsigned(out_bits), base=base,
                      max_shift=max_shift, dsp=dsp)
    cases = [{"acc": int(acc[i]), "multiplier": int(multiplier[i]), "offset": int(offset[i]),
              "shift": int(shift[i] - base), "zero_point": int(zero_point[i])} for i in range(n)]
    results = iter(expected)

    def check(ctx, case):
        assert ctx.get(dut.y) == next(results), case
    run_comb(dut, cases, check)


def test_requantizer_saturates_at_both_ends():
    dut = Requantizer(signed(12), signed(8), signed(4), unsigned(4), base=0, max_shift=2)
    cases = [{"acc": 2047, "multiplier": 127, "offset": 0, "shift": 0, "zero_point": 0},
             {"acc": -2048, "multiplier": 127, "offset": 0, "shift": 0, "zero_point": 3},
             {"acc": 5, "multiplier": 3, "offset": 2, "shift": 2, "zero_point": 1}]
    expected = iter([15, 0, (5 * 3 + 2 >> 2) + 1])
    run_comb(dut, cases, lambda ctx, case: _check(ctx.get(dut.y), next(expected)))


def _check(actual, expected):
    assert actual == expected


def test_requantizer_rejects_negative_shift():
    with pytest.raises(ValueError, match=r"^Requantizer base must be a non-negative integer, "
                                         r"not -1$"):
        Requantizer(signed(4), signed(4), signed(4), unsigned(4), base=-1)


@pytest.mark.parametrize("output, zero_point, expected", [
    (unsigned(4), 15, 16 - 1),   # 1 + 15 saturates at 15
    (unsigned(8), 200, 201),     # zero point far wider than the 1-bit scaled accumulator
    (signed(8), -128, -127),
])
def test_zero_point_wider_than_the_scaled_accumulator(output, zero_point, expected):
    # found by the formal proof (sim/formal.py): the sum was sized from the accumulator alone
    dut = Requantizer(unsigned(1), unsigned(1), unsigned(1), output, base=0, max_shift=0)
    cases = [{"acc": 0, "multiplier": 0, "offset": 1, "shift": 0, "zero_point": zero_point}]
    run_comb(dut, cases, lambda ctx, case: _check(ctx.get(dut.y), expected))
