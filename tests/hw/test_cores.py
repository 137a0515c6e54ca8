"""Combinational cores against integer arithmetic, in Amaranth's simulator (fast, broad)."""

import random

import pytest
from amaranth.hdl import signed, unsigned
from hypothesis import given, strategies as st

from qnnforge.hw.cores.binary_weight_dot import BinaryWeightDot
from qnnforge.hw.cores.popcount import Popcount, adder_tree, popcount
from qnnforge.hw.cores.threshold import Threshold
from qnnforge.hw.cores.xnor_dot import XnorDot

from .simulate import run_comb


def _random_words(rng, width, count):
    extremes = [0, (1 << width) - 1, 0x5555_5555_5555_5555 & ((1 << width) - 1)]
    return extremes + [rng.getrandbits(width) for _ in range(count)]


@pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 64, 129])
def test_popcount_counts_set_bits(width):
    rng = random.Random(width)
    unit = Popcount(width)
    cases = [{"bits": word} for word in _random_words(rng, width, 40)]
    run_comb(unit, cases, lambda ctx, case: _check(ctx.get(unit.count), bin(case["bits"]).count("1")))


def _check(actual, expected):
    assert actual == expected, f"expected {expected}, got {actual}"


@pytest.mark.parametrize("lanes", [1, 5, 16, 33])
def test_xnor_dot_counts_agreeing_lanes(lanes):
    rng = random.Random(lanes)
    unit = XnorDot(lanes)
    words = _random_words(rng, lanes, 30)
    cases = [{"x": x, "w": w} for x in words[:8] for w in words]

    def check(ctx, case):
        agree = sum(((case["x"] >> i) & 1) == ((case["w"] >> i) & 1) for i in range(lanes))
        _check(ctx.get(unit.count), agree)
    run_comb(unit, cases, check)


@given(lanes=st.integers(1, 12), bits=st.integers(1, 6), signed_x=st.booleans(),
       seed=st.integers(0, 2**16))
def test_binary_weight_dot_adds_or_subtracts(lanes, bits, signed_x, seed):
    if signed_x and bits < 2:
        bits = 2
    shape = signed(bits) if signed_x else unsigned(bits)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed_x else (0, (1 << bits) - 1)
    rng = random.Random(seed)
    unit = BinaryWeightDot(lanes, shape)
    cases = [{"x": [low] * lanes, "w": 0}, {"x": [low] * lanes, "w": (1 << lanes) - 1},
             {"x": [high] * lanes, "w": 0}, {"x": [high] * lanes, "w": (1 << lanes) - 1}]
    cases += [{"x": [rng.randint(low, high) for _ in range(lanes)],
               "w": rng.getrandbits(lanes)} for _ in range(10)]

    def check(ctx, case):
        expected = sum(x if (case["w"] >> i) & 1 else -x for i, x in enumerate(case["x"]))
        _check(ctx.get(unit.sum), expected)
    run_comb(unit, cases, check)


def test_threshold_compares_up_and_down():
    unit = Threshold(signed(6), signed(6))
    cases = [{"acc": a, "bound": b, "flip": f} for a in range(-32, 32, 3)
             for b in (-32, -1, 0, 5, 31) for f in (0, 1)]
    run_comb(unit, cases, lambda ctx, c: _check(
        ctx.get(unit.y), int(c["acc"] <= c["bound"] if c["flip"] else c["acc"] >= c["bound"])))


def test_threshold_mixes_unsigned_count_and_signed_bound():
    unit = Threshold(unsigned(4), signed(5))
    cases = [{"acc": a, "bound": b, "flip": f} for a in range(16) for b in (-1, 0, 7, 15)
             for f in (0, 1)]
    run_comb(unit, cases, lambda ctx, c: _check(
        ctx.get(unit.y), int(c["acc"] <= c["bound"] if c["flip"] else c["acc"] >= c["bound"])))



def test_adder_tree_of_nothing_is_zero():
    assert adder_tree([]).value == 0


@pytest.mark.parametrize("factory, message", [
    (lambda: Popcount(0), r"^Popcount width must be a positive integer, not 0$"),
    (lambda: XnorDot(True), r"^XnorDot lanes must be a positive integer, not True$"),
    (lambda: BinaryWeightDot(-2, unsigned(4)),
     r"^BinaryWeightDot lanes must be a positive integer, not -2$"),
])
def test_cores_reject_bad_sizes(factory, message):
    with pytest.raises(TypeError, match=message):
        factory()
