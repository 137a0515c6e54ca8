"""Fmax on iCE40 UP5K by nextpnr-ice40 (small units: 16 lanes, a few seconds each)."""

import pytest

from qnnforge.hw.cores.xnor_dot import XnorDot
from qnnforge.hw.explore.timing import TimingHarness, add_fmax, ice40_fmax, timed_units
from qnnforge.hw.explore.xnor_popcount import xnor_unit


def test_pipelining_raises_fmax(tmp_path):
    flat = ice40_fmax(XnorDot(16, lut_inputs=4), workdir=tmp_path / "flat")
    piped = ice40_fmax(xnor_unit(16, "pipelined", lut_inputs=4, register_every=1),
                       workdir=tmp_path / "piped")
    assert 10 < flat["fmax_mhz"] < piped["fmax_mhz"]
    assert (flat["latency"], piped["latency"]) == (0, 4)
    assert piped["logic_cells"] > flat["logic_cells"] > 16
    assert "Max frequency" in (tmp_path / "flat" / "nextpnr.log").read_text()


def test_harness_takes_a_popcount_unit():
    with pytest.raises(TypeError, match=r"^unit must be an XNOR-popcount unit, not 3$"):
        TimingHarness(3)


def test_add_fmax_times_each_ice40_xnor_unit_once(monkeypatch):
    import qnnforge.hw.explore.timing as timing

    placed = []
    monkeypatch.setattr(timing, "ice40_fmax",
                        lambda unit: placed.append(unit) or {"fmax_mhz": 20.0 + len(placed)})
    records = [{"fabric": fabric, "precision": precision, "kind": "dot", "lanes": 16,
                "architecture": "compressor", "dsp_inference": dsp}
               for fabric in ("ice40", "xc7") for precision in ("1", "4") for dsp in (0, 1)]
    assert timed_units(records) == [(16, "compressor")]
    add_fmax(records)
    assert len(placed) == 1 and type(placed[0]) is XnorDot
    assert [r.get("fmax_mhz") for r in records] == [21.0, 21.0] + [None] * 6
