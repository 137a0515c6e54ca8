"""Launch the cocotb core checks (tests/sim/cores_tb.py) on one Verilator build."""

from amaranth.back import verilog
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from qnnforge.hw.cores.binary_weight_dot import BinaryWeightDot
from qnnforge.hw.cores.threshold import Threshold
from qnnforge.hw.cores.xnor_dot import XnorDot
from qnnforge.sim.runner import build_design

from . import cores_tb


class CoreHarness(wiring.Component):
    """XNOR dot, binary-weight dot and threshold side by side, ports prefixed per core."""

    def __init__(self):
        self._xnor = XnorDot(cores_tb.LANES)
        self._bw = BinaryWeightDot(cores_tb.BW_LANES, unsigned(cores_tb.BW_BITS))
        self._threshold = Threshold(signed(9), signed(9))
        super().__init__({
            "xnor_x": In(cores_tb.LANES), "xnor_w": In(cores_tb.LANES),
            "xnor_count": Out(self._xnor.count.shape()),
            "bw_x": In(data.ArrayLayout(unsigned(cores_tb.BW_BITS), cores_tb.BW_LANES)),
            "bw_w": In(cores_tb.BW_LANES), "bw_sum": Out(self._bw.sum.shape()),
            "th_acc": In(signed(9)), "th_bound": In(signed(9)), "th_flip": In(1), "th_y": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.xnor, m.submodules.bw = self._xnor, self._bw
        m.submodules.threshold = self._threshold
        m.d.comb += [self._xnor.x.eq(self.xnor_x), self._xnor.w.eq(self.xnor_w),
                     self.xnor_count.eq(self._xnor.count),
                     self._bw.x.eq(self.bw_x), self._bw.w.eq(self.bw_w),
                     self.bw_sum.eq(self._bw.sum),
                     self._threshold.acc.eq(self.th_acc), self._threshold.bound.eq(self.th_bound),
                     self._threshold.flip.eq(self.th_flip), self.th_y.eq(self._threshold.y)]
        return m


def test_cores_in_verilator(tmp_path):
    source = tmp_path / "core_harness.v"
    source.write_text(verilog.convert(CoreHarness(), name="core_harness", emit_src=False))
    build_design(source, "core_harness").run("tests.sim.cores_tb", name="cores")
