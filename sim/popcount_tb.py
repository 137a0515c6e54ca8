"""cocotb check of every popcount architecture against the reference count, side by side.

The harness (see ``tests/sim/test_popcount_cocotb.py``) holds, for each lane count, one unit of
each architecture sharing the inputs ``x_<lanes>`` and ``w_<lanes>``, with outputs
``<architecture>_<lanes>``. The config names the lane counts, the constant weights and each
unit's latency. Driver, model and checker are kept apart: the driver sets new random operands
at every falling edge, the model is ``popcount(~(x ^ w))`` on Python integers, and the checker
compares, in the ``ReadOnly`` phase, each output with the model of the operands driven
``latency`` edges earlier, naming the first mismatch.
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


def _operands(rng: random.Random, lanes: int, cycle: int) -> tuple[int, int]:
    full = (1 << lanes) - 1
    corners = [(0, 0), (full, full), (0, full), (full, 0)]
    if cycle < len(corners):
        return corners[cycle]
    return rng.getrandbits(lanes), rng.getrandbits(lanes)


@cocotb.test()
async def architectures_match_reference(dut):
    config = load_config()
    rng = random.Random(config.get("seed", 1))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    history: dict[int, list[tuple[int, int]]] = {lanes: [] for lanes in config["lanes"]}
    checked = 0
    for cycle in range(config["cycles"]):
        await FallingEdge(dut.clk)
        for lanes in config["lanes"]:
            x, w = _operands(rng, lanes, cycle)
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
