"""One class per FPGA fabric: synthesis script, cell counting and LUT size, in one registry."""

import pytest

from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.tools import synth
from qnnforge.hw.tools.fabrics import ECP5, FABRICS, ICE40, XC7, Fabric, get_fabric, register


def test_registry_holds_every_fabric_in_order():
    assert list(FABRICS) == ["ice40", "xc7", "ecp5"]
    assert [FABRICS[name].lut_inputs for name in FABRICS] == [4, 6, 4]
    assert isinstance(get_fabric("xc7"), XC7) and synth.FABRICS is FABRICS
    with pytest.raises(ValueError, match=r"^fabric must be one of ice40, xc7, ecp5, "
                                         r"not 'gw1n'$"):
        get_fabric("gw1n")


def test_synth_scripts():
    assert get_fabric("xc7").synth_script("top", dsp=False) == \
        "synth_xilinx -flatten -family xc7 -top top -nodsp"
    assert get_fabric("xc7").synth_script("top", dsp=True, flatten=False) == \
        "synth_xilinx -family xc7 -top top"
    assert get_fabric("ice40").synth_script("t", dsp=True, flatten=False) == \
        "synth_ice40 -top t -noflatten -dsp -run :check; hierarchy -check"
    assert get_fabric("ecp5").synth_script("t", dsp=False) == \
        "synth_ecp5 -top t -nodsp -run :check; hierarchy -check"


def test_cells_are_counted_by_class():
    counts = get_fabric("ecp5").count({"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 5, "MULT18X18D": 1,
                                       "unknown": 7})
    assert (counts["lut"], counts["carry"], counts["ff"], counts["dsp"]) == (16, 3, 5, 1)
    counts = get_fabric("xc7").count({"LUT6": 4, "LUT6_2": 1, "CARRY4": 2, "FDRE": 3,
                                      "SRL16E": 1, "MUXF7": 2})
    assert (counts["lut"], counts["carry"], counts["ff"], counts["lutram"], counts["mux"]) == \
        (5, 2, 3, 1, 2)
    assert get_fabric("ice40").count({"SB_LUT4": 2, "SB_DFFER": 1, "SB_CARRY": 4})["lut"] == 2


def test_scheme_changes_with_the_counting():
    class Counted(ECP5):
        luts_per_carry = 0

    assert Counted().scheme() != ECP5().scheme() == FABRICS["ecp5"].scheme()
    assert synth.counting_scheme("ice40") == ICE40().scheme()


def test_a_fabric_is_one_registered_class(monkeypatch):
    monkeypatch.setattr("qnnforge.hw.tools.fabrics.FABRICS", dict(FABRICS))
    from qnnforge.hw.tools import fabrics

    @register
    class GW1N(Fabric):
        name = "gw1n"
        lut_inputs = 4
        synth = "synth_gowin -top {top}"
        cells = {"lut": r"LUT4", "ff": r"DFF\w*", "carry": r"ALU", "bram": r"BSRAM",
                 "dsp": r"MULT\w+"}

    assert fabrics.FABRICS["gw1n"].synth_script("t", dsp=True) == "synth_gowin -top t"
    assert HardwareOptions.for_fabric("gw1n", popcount="compressor").lut_inputs == 4
    with pytest.raises(ValueError, match=r"^fabric 'gw1n' is registered already$"):
        register(GW1N)


def test_options_for_fabric_read_the_registry():
    assert HardwareOptions.for_fabric("xc7").lut_inputs == 6
    assert HardwareOptions.for_fabric("ecp5").lut_inputs == 4


def test_memory_luts_counts_the_luts_inside_distributed_ram_cells():
    # the demo's xc7 input buffers: 64 RAM32M (4 LUTs each) and 2 RAM128X1D (4 each)
    assert get_fabric("xc7").memory_luts({"RAM32M": 64, "RAM128X1D": 2, "LUT6": 9}) == 264
    assert get_fabric("xc7").memory_luts({"SRLC32E": 3, "RAM64X1D": 1}) == 5
    assert get_fabric("ecp5").memory_luts({"TRELLIS_DPR16X4": 2, "LUT4": 7}) == 8
    assert get_fabric("ice40").memory_luts({"SB_RAM40_4K": 4}) == 0  # block RAM: no LUTs
    class Unsized(XC7):  # a fabric that names its memory cells but not their sizes
        luts_per_memory_cell = {}

    with pytest.raises(ValueError, match=r"^xc7: no LUT count for the memory cell RAM32M$"):
        Unsized().memory_luts({"RAM32M": 1})
