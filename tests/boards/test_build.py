"""Board builds: constraint files and scripts for every board, the iCEBreaker bitstream, PLLs."""

import json

import numpy as np
import pytest

from qnnforge.boards.build import (BoardBuildError, build_board, fit_overflow,
                                   parse_nextpnr_report)
from qnnforge.boards.clocking import ecp5_pll, ice40_pll, xc7_pll
from qnnforge.boards.platforms import BOARDS, get_board
from qnnforge.cli import main
from qnnforge.hw.compiler.interface import DesignInterface, design_interface
from qnnforge.hw.compiler.options import HardwareOptions


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory, artifact):
    return artifact.save(tmp_path_factory.mktemp("model") / "small")


def _build(artifact_dir, out, board, *extra):
    status = main(["build", str(artifact_dir), "--board", board, "--out", str(out),
                   "--no-estimate", *extra])
    return status, json.loads((out / "report.json").read_text())


def test_ulx3s_bitstream_fits_and_meets_timing(artifact_dir, tmp_path):
    # Yosys, then nextpnr-ecp5 and ecppack (native, or the YoWASP wheel bootstrap installs)
    status, report = _build(artifact_dir, tmp_path, "ulx3s-85f")
    assert status == 0
    name = "qnnforge_ulx3s_85f"
    bitstream = tmp_path / f"{name}.bit"
    assert report["bitstream"] == str(bitstream) and bitstream.stat().st_size > 100_000
    assert report["place_and_route"] == "ran"
    assert report["lut_total"] == report["ff_total"] == 83640
    assert report["bram_total"] == 208 and report["dsp_total"] == 156
    assert 100 < report["lut"] < 20_000 and 100 < report["ff"] < 20_000
    assert 0 <= report["bram"] <= 208 and 0 <= report["dsp"] <= 156
    assert report["fmax_mhz"] >= report["clock_mhz"] == 25.0 and report["timing_met"]
    assert report["uart_divisor"] == 217
    lpf = (tmp_path / f"{name}.lpf").read_text()
    for line in ('LOCATE COMP "uart_0__rx__io" SITE "M1";', 'LOCATE COMP "uart_0__tx__io" '
                 'SITE "L4";', 'LOCATE COMP "led_0__io" SITE "B2";',
                 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ;'):
        assert line in lpf
    # the script still names the native tools, for a machine that has them
    script = (tmp_path / f"build_{name}.sh").read_text()
    assert ": ${NEXTPNR_ECP5:=nextpnr-ecp5}" in script and ": ${ECPPACK:=ecppack}" in script
    assert "--85k --package CABGA381" in script and "--freq 25 " in script
    assert f"module {name}(" in (tmp_path / f"{name}.v").read_text()


def test_arty_gets_verilog_xdc_and_vivado_tcl_with_a_pll(artifact_dir, tmp_path):
    status, report = _build(artifact_dir, tmp_path, "arty-a7-35", "--clock-mhz", "150")
    assert status == 0
    name = "qnnforge_arty_a7_35"
    xdc = (tmp_path / f"{name}.xdc").read_text()
    assert 'set_property LOC A9 [get_ports "uart_0__rx__io"]' in xdc
    assert 'set_property LOC D10 [get_ports "uart_0__tx__io"]' in xdc
    tcl = (tmp_path / f"{name}.tcl").read_text()
    assert "-part xc7a35ticsg324-1L" in tcl and f"add_files {name}.v" in tcl
    verilog = (tmp_path / f"{name}.v").read_text()
    assert "PLLE2_BASE" in verilog and "CLKFBOUT_MULT" in verilog
    assert report["pll"] == {"family": "xc7", "DIVCLK_DIVIDE": 1, "CLKFBOUT_MULT": 9,
                             "CLKOUT0_DIVIDE": 6}
    assert report["clock_mhz"] == 150.0 and report["uart_divisor"] == 1302


def test_icebreaker_bitstream_fits_and_meets_timing(artifact_dir, tmp_path):
    status = main(["build", str(artifact_dir), "--board", "icebreaker", "--out", str(tmp_path)])
    assert status == 0
    report = json.loads((tmp_path / "report.json").read_text())
    bitstream = tmp_path / "qnnforge_icebreaker.bin"
    assert report["bitstream"] == str(bitstream) and bitstream.stat().st_size > 100_000
    assert report["lc_total"] == 5280 and 0 < report["lc"] <= 5280
    assert report["bram_total"] == 30 and report["dsp_total"] == 8
    # an MLP runs from the iCEBreaker's 50.25 MHz PLL clock (12 MHz * 67 / 16), pipelined
    assert report["fmax_mhz"] >= report["clock_mhz"] == 50.25 and report["timing_met"]
    assert report["pll"] == {"family": "ice40", "DIVR": 0, "DIVF": 66, "DIVQ": 4,
                             "FILTER_RANGE": 1}
    assert report["options"]["pipeline"] == {"levels": 1}
    # the versions of the tools that ran (the packer prints none), and the placer seed
    environment = report["environment"]
    assert list(environment["tools"]) == ["yosys", "nextpnr-ice40"]
    assert environment["tools"]["yosys"].startswith("Yosys ") and environment["seed"] == 1
    pcf = (tmp_path / "qnnforge_icebreaker.pcf").read_text()
    assert "set_io uart_0__rx__io 6" in pcf and "set_io uart_0__tx__io 9" in pcf


def test_icebreaker_pll_design(artifact_dir, tmp_path):
    status, report = _build(artifact_dir, tmp_path, "icebreaker", "--clock-mhz", "24",
                            "--no-run")
    assert status == 0
    verilog = (tmp_path / "qnnforge_icebreaker.v").read_text()
    assert "SB_PLL40_PAD" in verilog
    assert report["pll"] == {"family": "ice40", "DIVR": 0, "DIVF": 63, "DIVQ": 5,
                             "FILTER_RANGE": 1}
    assert report["place_and_route"] == "not run (disabled)"
    assert "fmax_mhz" not in report
    assert report["environment"]["tools"] == {}  # no tool ran
    # the iCE40's LUT4 sizes the popcount unless the build is told otherwise
    assert report["options"] == HardwareOptions.for_fabric("ice40").to_json()
    assert report["options"]["popcount"]["lut_inputs"] == 4


def test_nextpnr_report_parsing():
    report = {"utilization": {"ICESTORM_LC": {"used": 4100, "available": 5280},
                              "ICESTORM_RAM": {"used": 9, "available": 30}},
              "fmax": {"clk_a": {"achieved": 31.5, "constraint": 24.0},
                       "clk_b": {"achieved": 20.25, "constraint": 24.0}}}
    assert parse_nextpnr_report(report, 24.0, "ice40") == {
        "lc": 4100, "lc_total": 5280, "bram": 9, "bram_total": 30, "dsp": 0, "dsp_total": 0,
        "fmax_mhz": 20.25, "clock_mhz": 24.0, "timing_met": False}
    with pytest.raises(BoardBuildError, match=r"^nextpnr's report has no logic-cell "
                                              r"utilization or no clock$"):
        parse_nextpnr_report({"utilization": {}}, 12.0, "ice40")


# nextpnr-ecp5 0.11.1's --report for the small network on the LFE5U-85F, some cells left out
# and block RAMs and DSPs made non-zero so that every field is read from its own cell
ECP5_REPORT = {
    "fmax": {"$glbnet$clk": {"achieved": 70.29383087158203, "constraint": 25}},
    "utilization": {"DP16KD": {"available": 208, "used": 2},
                    "EHXPLLL": {"available": 4, "used": 0},
                    "MULT18X18D": {"available": 156, "used": 3},
                    "TRELLIS_COMB": {"available": 83640, "used": 1768},
                    "TRELLIS_FF": {"available": 83640, "used": 995},
                    "TRELLIS_IO": {"available": 365, "used": 5},
                    "TRELLIS_RAMW": {"available": 10455, "used": 10}}}


def test_nextpnr_ecp5_report_parsing():
    assert parse_nextpnr_report(ECP5_REPORT, 25.0, "ecp5") == {
        "lut": 1768, "lut_total": 83640, "ff": 995, "ff_total": 83640, "bram": 2,
        "bram_total": 208, "dsp": 3, "dsp_total": 156, "fmax_mhz": 70.29, "clock_mhz": 25.0,
        "timing_met": True}
    assert not parse_nextpnr_report(ECP5_REPORT, 75.0, "ecp5")["timing_met"]
    # an iCE40 report read as an ECP5 one has no logic cells of the ECP5
    with pytest.raises(BoardBuildError, match=r"^nextpnr's report has no logic-cell "
                                              r"utilization or no clock$"):
        parse_nextpnr_report({"utilization": {"ICESTORM_LC": {"used": 1, "available": 2}},
                              "fmax": ECP5_REPORT["fmax"]}, 25.0, "ecp5")


def test_unknown_board():
    with pytest.raises(ValueError, match=r"^board must be one of icebreaker, ulx3s-85f, "
                                         r"arty-a7-35, not 'zedboard'$"):
        get_board("zedboard")
    assert set(BOARDS) == {"icebreaker", "ulx3s-85f", "arty-a7-35"}


@pytest.mark.parametrize("solver, input_hz, request_hz", [
    (ice40_pll, 12e6, 48e6), (ice40_pll, 12e6, 30e6), (ecp5_pll, 25e6, 75e6),
    (ecp5_pll, 25e6, 50e6), (xc7_pll, 100e6, 125e6), (xc7_pll, 100e6, 200e6)])
def test_pll_settings_make_the_requested_clock(solver, input_hz, request_hz):
    pll = solver(input_hz, request_hz)
    p = pll.params
    if pll.family == "ice40":
        output = input_hz * (p["DIVF"] + 1) / ((p["DIVR"] + 1) * 2 ** p["DIVQ"])
        assert 533e6 <= output * 2 ** p["DIVQ"] <= 1066e6
    elif pll.family == "ecp5":
        output = input_hz * p["CLKFB_DIV"] / p["CLKI_DIV"]
        assert 400e6 <= output * p["CLKOP_DIV"] <= 800e6
    else:
        output = input_hz * p["CLKFBOUT_MULT"] / (p["DIVCLK_DIVIDE"] * p["CLKOUT0_DIVIDE"])
        assert 800e6 <= input_hz * p["CLKFBOUT_MULT"] / p["DIVCLK_DIVIDE"] <= 1600e6
    assert output == pytest.approx(pll.output_hz) == pytest.approx(request_hz, rel=0.01)


def test_pll_out_of_range():
    with pytest.raises(ValueError, match=r"^no ice40 PLL setting reaches 48 MHz from 5 MHz$"):
        ice40_pll(5e6, 48e6)
    with pytest.raises(ValueError, match=r"^the closest ice40 PLL output to 15\.5 MHz from "
                                         r"12 MHz is 16\.125 MHz \(more than 1% off\)$"):
        ice40_pll(12e6, 15.5e6)


def _tiny_artifact():
    from qnnforge.sw.artifact import (Artifact, DenseLayer, InputQuantizer, ScoreOutput,
                                      ThresholdActivation)
    from qnnforge.sw.encoding import BIPOLAR, uint

    quantizer = InputQuantizer(encoding=uint(4), raw_min=0, raw_max=16, multiplier=15, shift=4)
    hidden = DenseLayer("fc0", uint(4), BIPOLAR, np.array([[1, -1, 1, -1], [1, 1, -1, -1]]),
                        ThresholdActivation(np.array([0, 3]), np.array([1, -1])))
    out = DenseLayer("fc1", BIPOLAR, BIPOLAR, np.array([[1, -1], [-1, 1]]),
                     ScoreOutput(np.array([0, 1])))
    return Artifact(name="tiny", input=quantizer, layers=(hidden, out))


def test_estimate_synthesizes_the_board_core_for_the_fabric(tmp_path):
    result = build_board(_tiny_artifact(), get_board("arty-a7-35"), tmp_path, run=False)
    estimate = result.report["yosys_estimate"]
    assert estimate["top"] == "qnnforge_arty_a7_35_core" and estimate["fabric"] == "xc7"
    assert estimate["lut"] > 20 and estimate["ff"] > 20
    assert result.report["place_and_route"] == "not run (disabled)"
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["yosys_estimate"] == estimate


def test_fit_overflow_reads_the_utilisation_line():
    log = "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:  5557/ 5280   105%\n"
    assert fit_overflow(log, "ice40") == ("lc", 5557, 5280)
    assert fit_overflow(log.replace("5557", "4148"), "ice40") is None
    assert fit_overflow("ERROR: something else", "ice40") is None
    # nextpnr-ecp5's lines; block RAM is the cell that overflows
    log = ("Info: \t              DP16KD:     215/    208   103%\n"
           "Info: \t        TRELLIS_COMB:   61002/  83640    72%\n")
    assert fit_overflow(log, "ecp5") == ("bram", 215, 208)
    assert fit_overflow(log, "ice40") is None


def test_board_build_records_its_options_and_interface(tmp_path):
    artifact = _tiny_artifact()
    board = get_board("arty-a7-35")
    default = build_board(artifact, board, tmp_path / "a", run=False, estimate=False)
    # xc7's Fmax is not measured here: its builds are not pipelined by default
    assert default.report["options"] == {"dsp": True, "popcount": {"architecture": "adder_tree",
                                                                   "lut_inputs": 6},
                                         "pipeline": {"levels": 0},
                                         "memories": {"block_rom_words": 128,
                                                      "whole_word_writes": True,
                                                      "writable_weights": False}}
    options = HardwareOptions(dsp=False, popcount="compressor", lut_inputs=4)
    chosen = build_board(artifact, board, tmp_path / "b", run=False, estimate=False,
                         options=options)
    assert chosen.report["options"] == options.to_json()
    design = json.loads((tmp_path / "b" / "design.json").read_text())
    assert design["popcount"] == {"architecture": "compressor", "lut_inputs": 4}
    assert design["dsp"] is False
    assert chosen.report["files"]["design"] == str(tmp_path / "b" / "design.json")
    # the XNOR output layer's popcount is now a compressor: the Verilog differs
    name = "qnnforge_arty_a7_35.v"
    assert (tmp_path / "a" / name).read_text() != (tmp_path / "b" / name).read_text()
    interface = DesignInterface.from_json(design["interface"])
    folding = chosen.report["folding"]
    assert interface.input.lanes == folding["input_lanes"]
    assert interface.score_bits == artifact.score_bits and interface.classes == 2
    # request (4 codes) and response (2 one-byte scores) frames are both 9 bytes
    assert chosen.report["inferences_per_second"]["uart"] == round(115200 / 90, 1)


def test_board_build_rejects_options_of_another_type(tmp_path):
    with pytest.raises(TypeError, match=r"^options must be a HardwareOptions, not 'compressor'$"):
        build_board(_tiny_artifact(), get_board("arty-a7-35"), tmp_path, run=False,
                    estimate=False, options="compressor")


def test_board_core_takes_widths_from_the_interface(artifact, folding):
    from qnnforge.boards.top import UartAccelerator

    core = UartAccelerator(artifact, folding, 4)
    assert core.interface == design_interface(artifact, folding)
    assert core.options == HardwareOptions()


def test_build_can_simulate_the_board_on_held_out_digits(artifact_dir, tmp_path):
    status, report = _build(artifact_dir, tmp_path, "icebreaker", "--no-run", "--simulate", "4")
    assert status == 0
    simulation = report["board_simulation"]
    assert (simulation["images"], simulation["agree"]) == (4, 4)
    assert simulation["malformed_requests_answered"] == 7
    assert list(report["environment"]["tools"]) == ["verilator"]


def test_build_rejects_a_simulation_of_no_images(artifact_dir, tmp_path, capsys):
    status = main(["build", str(artifact_dir), "--board", "icebreaker", "--out", str(tmp_path),
                   "--no-run", "--no-estimate", "--simulate", "999"])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error == "qnnforge: error: simulate must lie in 1..360, not 999"
    assert not (tmp_path / "report.json").exists()  # rejected before anything was built


@pytest.mark.parametrize("options, message", [
    (["--clock-mhz", "7"], "the closest ice40 PLL output to 7 MHz from 12 MHz is 16.125 MHz "
                           "(more than 1% off)"),
    (["--baud", "10000000"], "10000000 baud needs at least 40 MHz, not 12 MHz"),
])
def test_build_rejects_a_clock_or_baud_rate_before_building(artifact_dir, tmp_path, capsys,
                                                            options, message):
    status = main(["build", str(artifact_dir), "--board", "icebreaker", "--out",
                   str(tmp_path / "out"), "--no-run", *options])
    assert status == 2
    assert capsys.readouterr().err == f"qnnforge: error: {message}\n"
    assert not (tmp_path / "out").exists()
