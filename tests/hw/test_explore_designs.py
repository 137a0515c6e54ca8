"""The cost explorer synthesizes the accelerator's own dot units, chosen by operand encodings."""

import re

import pytest
from amaranth.back import verilog
from amaranth.hdl import signed

from qnnforge.hw.cores.binary_weight_dot import BinaryWeightDot
from qnnforge.hw.cores.fixed_dot import FixedDot, FixedMultiplier
from qnnforge.hw.cores.ternary_dot import TernaryDot
from qnnforge.hw.cores.xnor_dot import XnorDot
from qnnforge.hw.explore.cost import Job, design_unit, design_verilog
from qnnforge.hw.explore.designs import LaneDot, Mac, dot_unit, precision_name
from qnnforge.hw.explore.xnor_popcount import (ConstantXnorPopcount, PipelinedXnorPopcount,
                                               xnor_unit)
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint


@pytest.mark.parametrize("popcount", ["adder_tree", "compressor"])
def test_256_lane_xnor_figure_is_the_mvus_xnor_dot(popcount):
    """The README's 256-lane XNOR rows synthesize XnorDot itself, as the MVU builds it."""
    job = Job(BIPOLAR, BIPOLAR, 256, "xc7", False, popcount)
    unit = design_unit(job)
    assert type(unit) is XnorDot and unit.lanes == 256
    expected = verilog.convert(XnorDot(256, popcount=popcount, lut_inputs=6), name=job.top,
                               emit_src=False)
    assert design_verilog(job).verilog == expected
    assert design_verilog(job).flatten and design_verilog(job).latency == 0


def test_ternary_and_binary_weight_dots_are_the_accelerators():
    ternary = design_unit(Job(TERNARY, TERNARY, 256, "xc7", False, "adder_tree"))
    assert type(ternary) is TernaryDot and ternary.lanes == 256
    assert ternary.x.shape().elem_shape == signed(2)
    assert type(dot_unit(uint(4), BIPOLAR, 8)[0]) is BinaryWeightDot
    fixed, _ = dot_unit(sint(8), sint(4), 8, dsp=False)
    assert type(fixed) is FixedDot and not fixed.dsp


@pytest.mark.parametrize("architecture, dsp", [("adder_tree", True), ("shift_add", False)])
def test_fixed_point_lanes_are_fixed_multipliers(architecture, dsp):
    job = Job(sint(8), sint(8), 16, "xc7", False, architecture)
    assert design_unit(job) is None
    design = design_verilog(job)
    lane = verilog.convert(FixedMultiplier(signed(8), signed(8), dsp=dsp),
                           name=f"{job.top}_lane", emit_src=False)
    assert design.verilog.startswith(lane) and not design.flatten
    assert len(re.findall(rf"^\s*{job.top}_lane lane\d+ \(", design.verilog, re.M)) == 16


def test_mac_wraps_the_one_lane_unit():
    assert type(Mac(BIPOLAR, BIPOLAR).unit) is XnorDot
    assert type(Mac(TERNARY, TERNARY).unit) is TernaryDot
    assert type(Mac(sint(8), sint(8)).unit) is FixedDot
    assert design_verilog(Job(sint(8), sint(8), 1, "ice40", True, "mac")).latency == 1


def test_explorer_only_popcounts():
    assert type(xnor_unit(16, "pipelined")) is PipelinedXnorPopcount
    assert type(xnor_unit(4, "constant", weights=[1, 0, 0, 1])) is ConstantXnorPopcount
    assert type(xnor_unit(16, "compressor", lut_inputs=4)) is XnorDot


def test_precision_names():
    assert [precision_name(e) for e in (BIPOLAR, TERNARY, sint(8), uint(3))] == [
        "1", "ternary", "8", "u3"]
    assert Job(uint(4), TERNARY, 16, "xc7", False, "adder_tree").precision == "u4xternary"


def test_argument_errors():
    with pytest.raises(TypeError, match=r"^weights must be an Encoding, not '8'$"):
        dot_unit(sint(8), "8", 4)
    with pytest.raises(ValueError, match=r"^dot unit: int8 weights with bipolar inputs have no "
                                         r"hardware implementation$"):
        dot_unit(BIPOLAR, sint(8), 4)
    with pytest.raises(TypeError, match=r"^terms must be a positive integer, not 0$"):
        Mac(sint(8), sint(8), 0)
    with pytest.raises(TypeError, match=r"^lane must be a FixedMultiplier or a CodebookLane, "
                                        r"not 3$"):
        LaneDot(3, 4, "lane")
    with pytest.raises(ValueError, match=r"^weights must hold 4 bits, not 3$"):
        xnor_unit(4, "constant", weights=[1, 0, 1])
