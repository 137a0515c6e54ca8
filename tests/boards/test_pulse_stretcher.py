"""The LED pulse stretcher: on for exactly its cycles after the last pulse."""

import pytest
from amaranth.sim import Simulator

from qnnforge.boards.top import PulseStretcher


@pytest.mark.parametrize("cycles", [1, 5, 16])
def test_output_stays_on_for_its_cycles_after_the_last_pulse(cycles):
    dut = PulseStretcher(cycles)
    pulses = {2, 4}  # a second pulse restarts the count
    outputs = []

    async def bench(ctx):
        for cycle in range(40):
            ctx.set(dut.pulse, cycle in pulses)
            _, _, output = await ctx.tick().sample(dut.output)
            outputs.append(output)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # the output sampled at cycle c's edge shows the pulses of the cycles before it: on for
    # `cycles` cycles after each pulse (cycles 2 and 4), off again after the last
    on = [c for c, value in enumerate(outputs) if value]
    assert on == sorted(set(range(3, 3 + cycles)) | set(range(5, 5 + cycles)))
