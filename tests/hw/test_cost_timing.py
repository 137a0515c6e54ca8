"""Fmax on iCE40 UP5K by nextpnr-ice40 (small units: 16 lanes, a few seconds each)."""

import pytest

from qnnforge.hw.explore.timing import TimingHarness, ice40_fmax
from qnnforge.hw.explore.xnor_popcount import XnorPopcount


def test_pipelining_raises_fmax(tmp_path):
    flat = ice40_fmax(XnorPopcount(16, "adder_tree", lut_inputs=4), workdir=tmp_path / "flat")
    piped = ice40_fmax(XnorPopcount(16, "pipelined", lut_inputs=4, register_every=1),
                       workdir=tmp_path / "piped")
    assert 10 < flat["fmax_mhz"] < piped["fmax_mhz"]
    assert (flat["latency"], piped["latency"]) == (0, 4)
    assert piped["logic_cells"] > flat["logic_cells"] > 16
    assert "Max frequency" in (tmp_path / "flat" / "nextpnr.log").read_text()


def test_harness_takes_a_popcount_unit():
    with pytest.raises(TypeError, match=r"^unit must be an XnorPopcount, not 3$"):
        TimingHarness(3)
