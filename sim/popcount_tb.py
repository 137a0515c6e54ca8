"""cocotb check of every popcount architecture against the reference count, side by side.

The harness (see ``tests/sim/test_popcount_cocotb.py``) holds, for each lane count, one unit of
each architecture sharing the inputs ``x_<lanes>`` and ``w_<lanes>``, with outputs
``<architecture>_<lanes>``. The config names the lane counts, the constant weights and each
unit's latency. Driver, model and checker are kept apart: the driver sets new operands at
every falling edge (corners, random, and counts near either end of the range), the model is
``popcount(~(x ^ w))`` on Python integers, and the checker compares, in the ``ReadOnly``
phase, each output with the model of the operands driven ``latency`` edges earlier, naming the
first mismatch.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from .runner import load_config


def reference_count(x: int, w: int, lanes: int) -> int:
    """Return the number of lanes where ``x`` and ``w`` agree."""
    return bin(~(x ^ w) & ((1 << lanes) - 1)).count("1")


def _operands(rng: random.Random, lanes: int, cycle: int, weights: int) -> tuple[int, int]:
    """Corners first; then, in turn, random operands and operands whose count is near the
    top or the bottom of the range (for ``w`` and for the constant ``weights``), so that the
    top carries of every adder are exercised."""
    full = (1 << lanes) - 1
    corners = [(0, 0), (full, full), (0, full), (full, 0), (weights, 0), (~weights & full, 0)]
    if cycle < len(corners):
        return corners[cycle]

    def flips() -> int:
        return sum(1 << lane for lane in rng.sample(range(lanes), rng.randint(0, min(lanes, 3))))

    x = rng.getrandbits(lanes)
    kind = cycle % 4
    if kind == 0:
        return x, rng.getrandbits(lanes)
    if kind == 1:
        return x, x ^ flips()
    if kind == 2:
        return x, ~x & full ^ flips()
    x = (weights if rng.getrandbits(1) else ~weights & full) ^ flips()
    return x, rng.getrandbits(lanes)


@cocotb.test()
async def architectures_match_reference(dut):
    config = load_config()
    rng = random.Random(config.get("seed", 1))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    history: dict[int, list[tuple[int, int]]] = {lanes: [] for lanes in config["lanes"]}
    weights = {unit["lanes"]: int(unit["weights"], 2) for unit in config["units"]}
    checked = 0
    for cycle in range(config["cycles"]):
        await FallingEdge(dut.clk)
        for lanes in config["lanes"]:
            x, w = _operands(rng, lanes, cycle, weights[lanes])
            getattr(dut, f"x_{lanes}").value = x
            getattr(dut, f"w_{lanes}").value = w
            history[lanes].append((x, w))
        await ReadOnly()
        for unit in config["units"]:
            lanes, latency = unit["lanes"], unit["latency"]
            if cycle < latency:
                continue
            x, w = history[lanes][cycle - latency]
            if unit["architecture"] == "constant":
                w = int(unit["weights"], 2)
            expected = reference_count(x, w, lanes)
            actual = int(getattr(dut, f"{unit['architecture']}_{lanes}").value)
            assert actual == expected, (
                f"{unit['architecture']}, {lanes} lanes, cycle {cycle}: x={x:#x} w={w:#x} "
                f"expected {expected}, got {actual}")
            checked += 1
    assert checked >= config["cycles"] * len(config["units"]) // 2
