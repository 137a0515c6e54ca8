"""Every popcount architecture, bit-exact in Verilator: one harness, one build, one cocotb run."""

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qnnforge.hw.explore.xnor_popcount import (ARCHITECTURES, constant_weights, latency,
                                               xnor_unit)
from qnnforge.sim.runner import build_design

LANES = (7, 64, 100, 256)
LUT_INPUTS = {7: 4, 64: 6, 100: 4, 256: 6}  # 256 lanes on LUT6: the figures docs/cost.md quotes


class PopcountHarness(wiring.Component):
    """Each architecture at each lane count, sharing ``x_<lanes>``/``w_<lanes>``."""

    def __init__(self):
        self.units = {}
        ports = {}
        for lanes in LANES:
            ports[f"x_{lanes}"], ports[f"w_{lanes}"] = In(lanes), In(lanes)
            for architecture in ARCHITECTURES:
                unit = xnor_unit(
                    lanes, architecture, lut_inputs=LUT_INPUTS[lanes], register_every=2,
                    weights=constant_weights(lanes) if architecture == "constant" else None)
                self.units[architecture, lanes] = unit
                ports[f"{architecture}_{lanes}"] = Out(unit.count.shape())
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        for (architecture, lanes), unit in self.units.items():
            m.submodules[f"{architecture}_{lanes}"] = unit
            m.d.comb += [unit.x.eq(getattr(self, f"x_{lanes}")),
                         getattr(self, f"{architecture}_{lanes}").eq(unit.count)]
            if architecture != "constant":
                m.d.comb += unit.w.eq(getattr(self, f"w_{lanes}"))
        return m


def test_popcount_architectures_in_verilator(tmp_path):
    harness = PopcountHarness()
    source = tmp_path / "popcount_harness.v"
    source.write_text(verilog.convert(harness, name="popcount_harness", emit_src=False))
    units = [{"architecture": architecture, "lanes": lanes, "latency": latency(unit),
              "weights": "".join(map(str, reversed(constant_weights(lanes))))}
             for (architecture, lanes), unit in harness.units.items()]
    assert {unit["latency"] for unit in units} == {0, 2, 3, 4}  # pipelined: ceil(levels / 2)
    build_design(source, "popcount_harness").run(
        "qnnforge.sim.popcount_tb", {"lanes": list(LANES), "units": units, "cycles": 400,
                                     "seed": 5}, name="popcount")
