"""The skid buffer: every beat once, in order, under stalls; one beat a cycle at full rate."""

import random

from amaranth.hdl import unsigned
from amaranth.sim import Simulator

from qnnforge.hw.cores.skid_buffer import SKID_LATENCY, SkidBuffer

from .simulate import run_stream


def test_skid_buffer_passes_every_beat_in_order_under_stalls():
    beats = [random.Random(1).randrange(256) for _ in range(300)]
    received = run_stream(SkidBuffer(unsigned(8)), beats, len(beats), stall=0.4,
                          backpressure=0.5, seed=2)
    assert [int(value) for value in received] == beats


def test_skid_buffer_runs_at_full_rate_with_its_latency():
    dut = SkidBuffer(unsigned(8))
    seen = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        for cycle in range(12):
            ctx.set(dut.i_stream.valid, cycle < 8)
            ctx.set(dut.i_stream.payload, cycle)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i_stream.ready, dut.o_stream.valid, dut.o_stream.payload)
            assert ready
            if valid:
                seen.append((cycle, payload))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # beat k taken in cycle k is offered from cycle k + SKID_LATENCY
    assert seen == [(k + SKID_LATENCY, k) for k in range(8)]
