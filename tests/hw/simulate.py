"""Helpers to drive Amaranth components in Amaranth's own simulator from tests."""

from __future__ import annotations

import random

from amaranth.sim import Simulator


def run_comb(component, cases, check) -> None:
    """Apply each input dict in ``cases`` to a combinational ``component`` and call ``check``.

    ``check(ctx, case)`` reads the outputs with ``ctx.get`` and asserts.
    """
    async def testbench(ctx):
        for case in cases:
            for name, value in case.items():
                ctx.set(getattr(component, name), value)
            await ctx.delay(1e-9)
            check(ctx, case)

    sim = Simulator(component)
    sim.add_testbench(testbench)
    sim.run()


async def push_beats(ctx, port, payloads, rng, stall, *, first_unstalled=False) -> None:
    """Send ``payloads`` on the stream ``port``, idling a cycle with probability ``stall``
    (drawn from ``rng``) before each beat, but the first if ``first_unstalled``."""
    for k, payload in enumerate(payloads):
        while (k or not first_unstalled) and stall and rng.random() < stall:
            ctx.set(port.valid, 0)
            await ctx.tick()
        ctx.set(port.payload, payload)
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def collect_beats(ctx, port, received: list, count: int, rng, backpressure, *,
                        read=lambda payload: payload, timeout_cycles=500_000) -> None:
    """Append ``count`` payloads of the stream ``port`` to ``received`` (each as
    ``read(payload)``), refusing a cycle with probability ``backpressure``."""
    cycles = 0
    while len(received) < count:
        ready = not (backpressure and rng.random() < backpressure)
        ctx.set(port.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(port.valid, port.payload)
        if ready and valid:
            received.append(read(payload))
        cycles += 1
        assert cycles < timeout_cycles, f"only {len(received)} of {count} beats"


def simulate(component, *testbenches) -> None:
    """Run ``testbenches`` on ``component`` under one clock until they all return."""
    sim = Simulator(component)
    sim.add_clock(1e-8)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def run_stream(component, beats, expected_beats, *, stall=0.0, backpressure=0.0, seed=0,
               timeout_cycles=100_000) -> list:
    """Push ``beats`` into ``component.i_stream``, collect ``expected_beats`` output payloads.

    Random input stalls and output backpressure are drawn from ``seed``; returns the payloads
    as Amaranth simulator values (``ctx.get`` results).
    """
    rng = random.Random(seed)
    received = []

    async def driver(ctx):
        await push_beats(ctx, component.i_stream, beats, rng, stall)

    async def monitor(ctx):
        await collect_beats(ctx, component.o_stream, received, expected_beats, rng,
                            backpressure, timeout_cycles=timeout_cycles)

    simulate(component, driver, monitor)
    return received
