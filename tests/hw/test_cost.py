"""Precision-cost explorer: MAC designs in simulation, sweep definition, and small Yosys runs."""

import csv
import json
import random

import pytest
from amaranth.sim import Simulator

from qnnforge.cli import main
from qnnforge.hw.cores.codebook_dot import CodebookSumDot
from qnnforge.hw.explore.cost import (CODEBOOK_COMPARISON, Job, design_unit, design_verilog,
                                     merge_records, plot_series, run_sweep, sweep_jobs, write_csv,
                                     write_json, write_plot)
from qnnforge.hw.explore.designs import (Mac, accumulator_shape, codebook_table, dot_unit,
                                        parse_pair, parse_precision)
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint


@pytest.mark.parametrize("name", ["ternary", "2", "3", "4"])
def test_lane_multiplies_every_operand_pair(name):
    precision = parse_precision(name)
    lane, product = dot_unit(precision, precision, 1)
    values = range(precision.min, precision.max + 1)
    sim = Simulator(lane)

    async def testbench(ctx):
        for x in values:
            for w in values:
                ctx.set(lane.x, [x])
                ctx.set(lane.w, [w])
                await ctx.delay(1e-9)
                assert ctx.get(product) == x * w, (x, w)

    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("name", ["1", "ternary", "8"])
def test_mac_accumulates_and_restarts(name):
    precision = parse_precision(name)
    mac = Mac(precision, precision, terms=16)
    rng = random.Random(name)
    if name == "1":
        pairs = [(rng.randint(0, 1), rng.randint(0, 1)) for _ in range(40)]
        product = lambda x, w: int(x == w)  # noqa: E731
    else:
        low = -1 if name == "ternary" else -128
        high = 1 if name == "ternary" else 127
        pairs = [(rng.randint(low, high), rng.randint(low, high)) for _ in range(40)]
        product = lambda x, w: x * w  # noqa: E731
    sim = Simulator(mac)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        expected = 0
        for index, (x, w) in enumerate(pairs):
            first = index % 16 == 0
            ctx.set(mac.x, x)
            ctx.set(mac.w, w)
            ctx.set(mac.first, first)
            await ctx.tick()
            expected = product(x, w) + (0 if first else expected)
            assert ctx.get(mac.acc) == expected, index

    sim.add_testbench(testbench)
    sim.run()


def test_accumulator_holds_the_worst_case():
    assert accumulator_shape(BIPOLAR, BIPOLAR, 1024).width == 11
    assert not accumulator_shape(BIPOLAR, BIPOLAR, 1024).signed
    # 256 * 128 * 128 = 2**22 needs 23 magnitude bits and a sign
    assert accumulator_shape(sint(8), sint(8), 256).width == 24


def test_parse_precision():
    assert parse_precision("t") == TERNARY
    assert parse_precision(" 08 ") == sint(8)
    assert parse_precision("1") == BIPOLAR and parse_precision("u4") == uint(4)
    with pytest.raises(ValueError, match=r"^precision must be 1, ternary, a width from 2 to 32, "
                                         r"u1 to u32 or cb1 to cb7, not 'binary'$"):
        parse_precision("binary")
    table = parse_precision("cb3")
    assert table.kind == "codebook" and table.bits == 3 and table.values == codebook_table(3)
    with pytest.raises(ValueError, match=r"^precision must be 1, ternary, a width from 2 to 32, "
                                         r"u1 to u32 or cb1 to cb7, not 'cb8'$"):
        parse_precision("cb8")


def test_parse_pair_and_the_codebook_tables():
    assert parse_pair("8xcb4") == (sint(8), parse_precision("cb4"))
    assert parse_pair("u4x2") == (uint(4), sint(2)) and parse_pair("4") == (sint(4), sint(4))
    for bits in (1, 2, 5, 7):
        table = codebook_table(bits)
        assert len(table) == 1 << bits and list(table) == sorted(set(table))
        assert (table[0], table[-1]) == (-127, 127)
    assert codebook_table(4) == codebook_table(4)  # fixed seed: the same design every sweep


def test_codebook_rows_pair_each_table_with_fixed_point_lanes():
    jobs = sweep_jobs(CODEBOOK_COMPARISON, [16], ["xc7"], [False])
    assert [job.precision for job in jobs if job.kind == "dot"] == [
        "8xcb2", "8x2", "8xcb3", "8x3", "8xcb4", "8x4", "8xcb5", "8x5"]
    codebook_job = jobs[1]
    assert codebook_job.has_multiplier and codebook_job.weights == parse_precision("cb2")
    design = design_verilog(codebook_job)
    # one lane module (look-up and product), instantiated per lane
    assert not design.flatten
    assert design.verilog.count("module cost_dot_8xcb2_16_adder_tree_lane") == 1
    assert design.verilog.count("cost_dot_8xcb2_16_adder_tree_lane lane") == 16


def test_codebook_entry_sums_are_a_second_architecture():
    jobs = sweep_jobs(["8xcb3"], [16], ["xc7"], [False, True], ["entry_sums"])
    dots = [job for job in jobs if job.kind == "dot"]
    assert [(job.dsp, job.architecture) for job in dots] == [
        (False, "adder_tree"), (False, "entry_sums"), (True, "adder_tree"), (True, "entry_sums")]
    sums = dots[1]
    assert not sums.has_multiplier and dots[0].has_multiplier
    unit = design_unit(sums)
    assert type(unit) is CodebookSumDot and unit.values == parse_precision("cb3").values
    assert design_verilog(sums).flatten
    # fixed-point pairs have no entry sums
    assert [job.architecture for job in sweep_jobs(["8x3"], [16], ["xc7"], [False],
                                                   ["entry_sums"]) if job.kind == "dot"] == [
        "adder_tree"]


def test_a_codebook_lane_looks_up_and_multiplies():
    weights = parse_precision("cb2")
    lane, product = dot_unit(sint(3), weights, 1, dsp=False)
    sim = Simulator(lane)

    async def testbench(ctx):
        for x in range(-4, 4):
            for index, value in enumerate(weights.values):
                ctx.set(lane.x, [x])
                ctx.set(lane.w, [index])
                await ctx.delay(1e-9)
                assert ctx.get(product) == x * value, (x, value)

    sim.add_testbench(testbench)
    sim.run()


def test_merge_replaces_equal_jobs_and_recomputes_ratios():
    def record(precision, lut, lanes=16):
        return {"kind": "dot", "precision": precision, "lanes": lanes, "fabric": "xc7",
                "dsp_inference": False, "architecture": "adder_tree", "lut": lut,
                "lut_per_lane": lut / lanes, "ratio_to_1bit": 99.0}
    earlier = [record("1", 32), record("8", 3200)]
    merged = merge_records(earlier, [record("8", 1600), record("8xcb4", 4800)])
    assert [(r["precision"], r["lut"]) for r in merged] == [("1", 32), ("8", 1600),
                                                            ("8xcb4", 4800)]
    assert [r["ratio_to_1bit"] for r in merged] == [1.0, 50.0, 150.0]
    assert earlier[1]["lut"] == 3200  # the earlier list is not modified


def test_sweep_jobs_enumerates_every_combination():
    jobs = sweep_jobs(["1", "4"], [16, 64], ["xc7", "ice40"], [False, True],
                      ["adder_tree", "compressor"])
    # per fabric and DSP flag: 2 MACs, 1-bit x 2 lanes x 2 architectures, 4-bit x 2 lanes
    assert len(jobs) == 2 * 2 * (2 + 4 + 2)
    assert Job(BIPOLAR, BIPOLAR, 64, "ice40", True, "compressor") in jobs
    assert Job(sint(4), sint(4), 16, "xc7", False, "adder_tree") in jobs
    assert Job(sint(4), sint(4), 1, "xc7", True, "mac") in jobs


def test_sweep_jobs_validates():
    with pytest.raises(ValueError, match=r"^fabric must be one of ice40, xc7, ecp5, not 'gw1n'$"):
        sweep_jobs(["1"], [16], ["gw1n"])
    with pytest.raises(ValueError, match=r"^lanes must be integers of at least 2, not 1$"):
        sweep_jobs(["1"], [1], ["xc7"])
    with pytest.raises(ValueError, match=r"^architecture must be one of adder_tree, pipelined, "
                                         r"compressor, constant, shift_add, entry_sums, "
                                         r"not 'dadda'$"):
        sweep_jobs(["1"], [16], ["xc7"], architectures=["dadda"])


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """16 lanes on xc7, LUT only: every 1-bit architecture, 2- and 4-bit (real Yosys runs)."""
    cache = tmp_path_factory.mktemp("cost-cache")
    jobs = sweep_jobs(["1", "2", "4"], [16], ["xc7"], [False])
    return cache, jobs, run_sweep(jobs, cache=cache, workers=2)


def test_sweep_records_hold_counts_and_ratios(small_sweep):
    _, jobs, records = small_sweep
    assert len(records) == len(jobs)
    by_key = {(r["precision"], r["lanes"], r["architecture"]): r for r in records}
    for record in records:
        assert "error" not in record
        assert record["lut_per_lane"] == pytest.approx(record["lut"] / record["lanes"], abs=1e-3)
        assert {"lut", "ff", "carry", "dsp", "bram", "latency", "ratio_to_1bit"} <= set(record)
    tree, compressor = by_key["1", 16, "adder_tree"], by_key["1", 16, "compressor"]
    assert compressor["lut"] < tree["lut"]
    assert by_key["1", 16, "constant"]["lut"] <= compressor["lut"]
    assert by_key["1", 16, "pipelined"]["ff"] > 0 and by_key["1", 16, "pipelined"]["latency"] == 2
    assert by_key["4", 16, "adder_tree"]["lut"] > 2 * by_key["2", 16, "adder_tree"]["lut"]
    assert by_key["1", 1, "mac"]["ff"] == 11  # the 1024-term accumulator
    assert by_key["4", 16, "adder_tree"]["ratio_to_1bit"] > 10


def test_sweep_reads_the_cache(small_sweep):
    cache, jobs, records = small_sweep
    again = run_sweep(jobs, cache=cache, workers=2)
    assert all(record["cached"] for record in again)
    assert [r["lut"] for r in again] == [r["lut"] for r in records]


def test_writers(small_sweep, tmp_path):
    _, _, records = small_sweep
    write_json(records, tmp_path / "cost.json", {"yosys": "test"})
    write_csv(records, tmp_path / "cost.csv")
    write_plot(records, tmp_path / "cost.png")
    document = json.loads((tmp_path / "cost.json").read_text())
    assert document["schema"] == "qnnforge-cost/1" and len(document["records"]) == len(records)
    rows = list(csv.DictReader((tmp_path / "cost.csv").open()))
    assert len(rows) == len(records) and rows[0]["fabric"] == "xc7"
    assert (tmp_path / "cost.png").read_bytes()[:4] == b"\x89PNG"
    series = plot_series(records)["xc7"]
    assert [name for _, _, name in series] == ["1", "2", "4"]
    assert series[0][1] == min(r["lut_per_lane"] for r in records if r["precision"] == "1"
                               and r["lanes"] == 16 and r["architecture"] != "constant")


def test_yosys_failure_is_reported_with_its_log(tmp_path, monkeypatch):
    import qnnforge.hw.explore.cost as cost

    monkeypatch.setattr(cost, "design_verilog",
                        lambda job: cost.Design("module broken(input a; endmodule\n", True, 0))
    records = run_sweep([Job(BIPOLAR, BIPOLAR, 16, "xc7", False, "adder_tree")], cache=tmp_path)
    assert "yosys failed" in records[0]["error"]
    assert records[0]["log"].endswith(".log")
    assert "syntax error" in open(records[0]["log"]).read()


def test_cli_writes_json_csv_and_plot(small_sweep, tmp_path, capsys):
    cache, _, _ = small_sweep  # the same designs: read from the fixture's cache
    out = tmp_path / "cost.json"
    status = main(["cost", "--fabric", "xc7", "--bits", "1,4", "--lanes", "16", "--dsp", "off",
                   "--architectures", "adder_tree,compressor", "--json", str(out),
                   "--cache", str(cache)])
    assert status == 0
    records = json.loads(out.read_text())["records"]
    assert {(r["precision"], r["lanes"], r["architecture"]) for r in records} == {
        ("1", 1, "mac"), ("1", 16, "adder_tree"), ("1", 16, "compressor"), ("4", 1, "mac"),
        ("4", 16, "adder_tree")}
    assert out.with_suffix(".csv").exists() and out.with_suffix(".png").exists()
    assert "Precision cost (Yosys)" in capsys.readouterr().out


def test_sweep_on_a_two_worker_dask_cluster(tmp_path):
    """Two real syntheses on a local cluster of two workers; the rerun synthesizes nothing."""
    from qnnforge.sw.sweep import open_client

    jobs = [Job(BIPOLAR, BIPOLAR, 16, "xc7", False, "adder_tree"),
            Job(BIPOLAR, BIPOLAR, 16, "ice40", False, "adder_tree")]
    with open_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        records = run_sweep(jobs, cache=tmp_path, scheduler=client)
        logs = {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.log")}
        again = run_sweep(jobs, cache=tmp_path, scheduler=client)
    assert [r["fabric"] for r in records] == ["xc7", "ice40"]
    assert all(r["lut"] > 0 and not r["cached"] for r in records)
    assert len(logs) == 2  # one Yosys run per design
    assert all(r["cached"] for r in again)
    assert [r["lut"] for r in again] == [r["lut"] for r in records]
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.log")} == logs
