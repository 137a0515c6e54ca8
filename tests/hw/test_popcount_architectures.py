"""Popcount architectures (adder tree, pipelined, compressor, constant weights) in Amaranth's
simulator: bit-exact against integer counting over random widths, operands and LUT sizes."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from hypothesis import given, settings, strategies as st

from qnnforge.hw.cores.compressor import (carry_chain_add, compress, compressor_popcount,
                                          compressor_xnor_popcount, constant_xnor_popcount,
                                          counter)
from qnnforge.hw.cores.pipelined_popcount import (pipeline_latency, pipelined_adder_tree,
                                                  tree_levels)
from qnnforge.hw.explore.xnor_popcount import ARCHITECTURES, latency, xnor_unit


def agree(x, w, lanes):
    return bin(~(x ^ w) & ((1 << lanes) - 1)).count("1")


def check_unit(unit, operands, weights=None):
    """Drive ``(x, w)`` pairs one per cycle; compare ``count`` ``latency`` cycles later."""
    cycles = latency(unit)
    sim = Simulator(unit)
    if cycles:
        sim.add_clock(1e-6)
    mistakes = []

    async def testbench(ctx):
        for x, w in operands:
            ctx.set(unit.x, x)
            if weights is None:
                ctx.set(unit.w, w)
            for _ in range(cycles):
                await ctx.tick()
            if not cycles:
                await ctx.delay(1e-9)
            expected = agree(x, w, unit.lanes)
            if ctx.get(unit.count) != expected:
                mistakes.append((x, w, expected, ctx.get(unit.count)))

    sim.add_testbench(testbench)
    sim.run()
    assert not mistakes, f"first mismatch (x, w, expected, got): {mistakes[0]}"


def weight_word(weights):
    return sum(bit << i for i, bit in enumerate(weights))


@settings(max_examples=40, deadline=None)
@given(lanes=st.integers(1, 90), architecture=st.sampled_from(ARCHITECTURES),
       lut_inputs=st.sampled_from([3, 4, 5, 6]), register_every=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_architecture_counts_agreeing_lanes(lanes, architecture, lut_inputs, register_every,
                                            seed):
    rng = random.Random(seed)
    weights = [rng.randint(0, 1) for _ in range(lanes)] if architecture == "constant" else None
    unit = xnor_unit(lanes, architecture, lut_inputs=lut_inputs,
                        register_every=register_every, weights=weights)
    full = (1 << lanes) - 1
    fixed = weight_word(weights) if weights else None
    operands = [(0, 0), (full, full), (0, full)] + [
        (rng.getrandbits(lanes), rng.getrandbits(lanes)) for _ in range(12)]
    check_unit(unit, [(x, fixed if fixed is not None else w) for x, w in operands], weights)


@pytest.mark.parametrize("architecture", ["compressor", "constant"])
@pytest.mark.parametrize("lanes, lut_inputs", [(256, 6), (256, 4), (300, 6)])
def test_wide_compressors_near_both_ends_of_the_range(architecture, lanes, lut_inputs):
    """The widths the cost explorer reports, with counts at and next to 0 and ``lanes``."""
    rng = random.Random(lanes + lut_inputs)
    weights = [rng.randint(0, 1) for _ in range(lanes)] if architecture == "constant" else None
    unit = xnor_unit(lanes, architecture, lut_inputs=lut_inputs, weights=weights)
    full = (1 << lanes) - 1
    reference = weight_word(weights) if weights else rng.getrandbits(lanes)
    operands = []
    for flips in (0, 1, 2, 3, 5):
        mask = sum(1 << lane for lane in rng.sample(range(lanes), flips))
        operands += [(reference ^ mask, reference), (~reference & full ^ mask, reference)]
    operands += [(rng.getrandbits(lanes), reference) for _ in range(10)]
    check_unit(unit, operands, weights)


@settings(max_examples=30, deadline=None)
@given(width=st.integers(1, 12), data=st.data())
def test_carry_chain_add_adds_rows_and_carry_in(width, data):
    m = Module()
    x, y, carry_in = Signal(width), Signal(width), Signal()
    total = carry_chain_add(m, x, y, carry_in)
    assert len(total) == width + 1
    cases = data.draw(st.lists(st.tuples(st.integers(0, (1 << width) - 1),
                                         st.integers(0, (1 << width) - 1), st.integers(0, 1)),
                               min_size=1, max_size=8))
    cases.append(((1 << width) - 1, (1 << width) - 1, 1))
    sim = Simulator(m)

    async def testbench(ctx):
        for a, b, c in cases:
            ctx.set(x, a)
            ctx.set(y, b)
            ctx.set(carry_in, c)
            await ctx.delay(1e-9)
            assert ctx.get(total) == a + b + c, (a, b, c)

    sim.add_testbench(testbench)
    sim.run()


def test_carry_chain_add_argument_errors():
    m = Module()
    with pytest.raises(ValueError, match=r"^x_row and y_row must have the same width, "
                                         r"not 3 and 4$"):
        carry_chain_add(m, Signal(3), Signal(4), Signal())
    with pytest.raises(ValueError, match=r"^carry_in must be 1 bit wide, not 2$"):
        carry_chain_add(m, Signal(3), Signal(3), Signal(2))


@pytest.mark.parametrize("operands, every, latency", [
    (1, 1, 1), (2, 1, 1), (3, 1, 2), (256, 1, 8), (256, 2, 4), (256, 3, 3), (100, 8, 1)])
def test_pipeline_latency_is_levels_over_stride(operands, every, latency):
    assert pipeline_latency(operands, every) == latency
    _, built = pipelined_adder_tree(Module(), [Signal() for _ in range(operands)], every)
    assert built == latency


def test_tree_levels():
    assert [tree_levels(n) for n in (1, 2, 3, 4, 5, 256, 257)] == [0, 1, 2, 2, 3, 8, 9]


@pytest.mark.parametrize("size", range(1, 8))
def test_counter_counts_every_input_pattern(size):
    m = Module()
    bits = Signal(size)
    outputs = counter(m, [bits[i] for i in range(size)])
    assert len(outputs) == size.bit_length()
    sim = Simulator(m)

    async def testbench(ctx):
        for word in range(1 << size):
            ctx.set(bits, word)
            await ctx.delay(1e-9)
            value = sum(ctx.get(bit) << i for i, bit in enumerate(outputs))
            assert value == bin(word).count("1"), word

    sim.add_testbench(testbench)
    sim.run()


@settings(max_examples=25, deadline=None)
@given(heights=st.lists(st.integers(0, 20), min_size=1, max_size=5), lut_inputs=st.integers(3, 6),
       seed=st.integers(0, 2**32 - 1))
def test_compress_sums_weighted_columns(heights, lut_inputs, seed):
    m = Module()
    total = sum(heights)
    bits = Signal(max(total, 1))
    columns, index = [], 0
    for height in heights:
        columns.append([bits[index + i] for i in range(height)])
        index += height
    out = Signal(16)
    m.d.comb += out.eq(compress(m, columns, lut_inputs))
    rng = random.Random(seed)
    sim = Simulator(m)

    async def testbench(ctx):
        for word in [0, (1 << total) - 1] + [rng.getrandbits(max(total, 1)) for _ in range(10)]:
            ctx.set(bits, word)
            await ctx.delay(1e-9)
            expected, offset = 0, 0
            for weight, height in enumerate(heights):
                expected += bin((word >> offset) & ((1 << height) - 1)).count("1") << weight
                offset += height
            assert ctx.get(out) == expected

    sim.add_testbench(testbench)
    sim.run()


def test_compressor_popcount_of_plain_bits():
    m = Module()
    bits, out = Signal(45), Signal(6)
    m.d.comb += out.eq(compressor_popcount(m, bits, 6))
    sim = Simulator(m)
    rng = random.Random(3)

    async def testbench(ctx):
        for word in [0, (1 << 45) - 1] + [rng.getrandbits(45) for _ in range(30)]:
            ctx.set(bits, word)
            await ctx.delay(1e-9)
            assert ctx.get(out) == bin(word).count("1")

    sim.add_testbench(testbench)
    sim.run()


def test_unknown_architecture_is_rejected():
    with pytest.raises(ValueError, match=r"^architecture must be one of adder_tree, pipelined, "
                                         r"compressor, constant, not 'wallace'$"):
        xnor_unit(8, "wallace")


def test_weights_only_for_constant():
    with pytest.raises(ValueError, match=r"^weights must be given for the constant "
                                         r"architecture only$"):
        xnor_unit(4, "compressor", weights=[1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"^weights must be given for the constant "
                                         r"architecture only$"):
        xnor_unit(4, "constant")


def test_lanes_must_be_positive():
    with pytest.raises(TypeError, match=r"^lanes must be a positive integer, not 0$"):
        xnor_unit(0)


def test_register_every_must_be_positive():
    with pytest.raises(ValueError, match=r"^register_every must be a positive integer, not 0$"):
        xnor_unit(8, "pipelined", register_every=0)


def test_compressor_argument_errors():
    m = Module()
    with pytest.raises(ValueError, match=r"^x and w must have the same width, not 4 and 5$"):
        compressor_xnor_popcount(m, Signal(4), Signal(5))
    with pytest.raises(ValueError, match=r"^lut_inputs must be an integer of at least 3, "
                                         r"not 2$"):
        compressor_xnor_popcount(m, Signal(4), Signal(4), lut_inputs=2)
    with pytest.raises(ValueError, match=r"^weights must hold 4 bits, not 3$"):
        constant_xnor_popcount(m, Signal(4), [1, 0, 1])
    with pytest.raises(ValueError, match=r"^weight 1 must be 0 or 1, not 2$"):
        constant_xnor_popcount(m, Signal(3), [1, 2, 0])
