"""cocotb checks of the combinational cores inside one harness (one Verilator build)."""

import random

import cocotb
from cocotb.triggers import Timer

LANES = 16
BW_LANES, BW_BITS = 8, 4


def _vectors(rng, width, count):
    full = (1 << width) - 1
    extremes = [0, full, 0xAAAA & full, 0x5555 & full, 1, 1 << (width - 1)]
    return extremes + [rng.getrandbits(width) for _ in range(count)]


@cocotb.test()
async def xnor_dot_random_and_extreme(dut):
    rng = random.Random(1)
    for x in _vectors(rng, LANES, 40):
        for w in _vectors(rng, LANES, 10):
            dut.xnor_x.value, dut.xnor_w.value = x, w
            await Timer(1, unit="ns")
            expected = LANES - bin(x ^ w).count("1")
            assert int(dut.xnor_count.value) == expected, f"x={x:#x} w={w:#x}"


@cocotb.test()
async def binary_weight_dot_random_and_extreme(dut):
    rng = random.Random(2)
    top = (1 << BW_BITS) - 1
    cases = [([top] * BW_LANES, 0), ([top] * BW_LANES, 0xFF), ([0] * BW_LANES, 0x0F)]
    cases += [([rng.randint(0, top) for _ in range(BW_LANES)], rng.getrandbits(BW_LANES))
              for _ in range(300)]
    for xs, w in cases:
        dut.bw_x.value = sum(x << (i * BW_BITS) for i, x in enumerate(xs))
        dut.bw_w.value = w
        await Timer(1, unit="ns")
        expected = sum(x if (w >> i) & 1 else -x for i, x in enumerate(xs))
        assert dut.bw_sum.value.to_signed() == expected, f"x={xs} w={w:#x}"


@cocotb.test()
async def threshold_at_and_around_the_boundary(dut):
    width = len(dut.th_acc)
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    bounds = [low, -1, 0, 1, high]
    for bound in bounds:
        for acc in sorted({low, high, bound - 1, bound, bound + 1} & set(range(low, high + 1))):
            for flip in (0, 1):
                dut.th_acc.value, dut.th_bound.value, dut.th_flip.value = acc, bound, flip
                await Timer(1, unit="ns")
                expected = int(acc <= bound) if flip else int(acc >= bound)
                assert int(dut.th_y.value) == expected, f"acc={acc} bound={bound} flip={flip}"
