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


def run_stream(component, beats, expected_beats, *, stall=0.0, backpressure=0.0, seed=0,
               timeout_cycles=100_000) -> list:
    """Push ``beats`` into ``component.i_stream``, collect ``expected_beats`` output payloads.

    Random input stalls and output backpressure are drawn from ``seed``; returns the payloads
    as Amaranth simulator values (``ctx.get`` results).
    """
    rng = random.Random(seed)
    received = []

    async def driver(ctx):
        for beat in beats:
            while stall and rng.random() < stall:
                ctx.set(component.i_stream.valid, 0)
                await ctx.tick()
            ctx.set(component.i_stream.payload, beat)
            ctx.set(component.i_stream.valid, 1)
            await ctx.tick().until(component.i_stream.ready)
        ctx.set(component.i_stream.valid, 0)

    async def monitor(ctx):
        out = component.o_stream
        cycles = 0
        while len(received) < expected_beats:
            ready = not (backpressure and rng.random() < backpressure)
            ctx.set(out.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(out.valid, out.payload)
            if ready and valid:
                received.append(payload)
            cycles += 1
            assert cycles < timeout_cycles, f"only {len(received)} of {expected_beats} beats"

    sim = Simulator(component)
    sim.add_clock(1e-8)
    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run()
    return received
