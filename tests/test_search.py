"""``qnnforge search``: its options, and a tiny search on the real engine and estimator."""

import json

import pytest

from qnnforge.cli import main
from qnnforge.commands.search import design_config, search_designs, search_report
from qnnforge.hw.explore.search import Budget, write_pareto_plot
from qnnforge.sw.config import TrainConfig


@pytest.mark.parametrize("options, message", [
    (["--lut-budget", "0"], "argument --lut-budget: must be a positive integer, not 0"),
    (["--lut-budget", "-3"], "argument --lut-budget: must be a positive integer, not -3"),
    (["--lut-budget", "many"],
     "argument --lut-budget: must be a positive integer, not 'many'"),
    (["--lut-budget", "100", "--cycles-budget", "0"],
     "argument --cycles-budget: must be a positive integer, not 0"),
    (["--lut-budget", "100", "--precisions", "int4,int3"],
     "argument --precisions: precisions must be among binary, ternary, int2, int4, int8, "
     "ttq, codebook2, codebook3, codebook4, codebook5, not 'int3'"),
    (["--lut-budget", "100", "--scheduler", "localhost"],
     "argument --scheduler: scheduler must be an address tcp://HOST:PORT, not 'localhost'"),
])
def test_bad_options_are_refused_by_the_parser(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", *options, "--out", str(tmp_path / "search")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"qnnforge search: error: {message}"
    assert not (tmp_path / "search").exists()


def test_lut_budget_is_required(capsys):
    with pytest.raises(SystemExit):
        main(["search"])
    assert "the following arguments are required: --lut-budget" in capsys.readouterr().err


def test_design_config_keeps_a_uniform_design_the_demo_of_its_precision():
    config = TrainConfig(epochs=3)
    assert design_config(config, ("int4",) * 3) == TrainConfig(epochs=3, precision="int4")
    mixed = design_config(config, ("int8", "int2", "binary"))
    assert mixed.precision_summary() == {"preset": "mixed", "layers": ["int8", "int2", "binary"]}


def test_tiny_search_on_the_engine_reports_every_key(tmp_path):
    config = TrainConfig(hidden=(8,), epochs=1)
    budget = Budget(1400)
    trace = search_designs(config, budget, "ice40", ("binary", "int2"), workers=2,
                           cache=tmp_path / "cache", progress=False)
    # round 0: both uniform designs; round 1: int2 in layer 0 then binary; round 2: nothing new
    assert list(trace.evaluations) == [("binary", "binary"), ("int2", "int2"), ("int2", "binary")]
    report = search_report(trace, "ice40", search_seconds=1.0, settings={"epochs": 1})
    assert {"lut_budget", "cycles_budget", "fabric", "layers", "target_cycles", "estimated",
            "attempts", "single_precision", "candidates", "pareto", "search"} <= set(report)
    assert report["lut_budget"] == 1400 and report["cycles_budget"] is None
    for entry in report["candidates"]:
        assert entry["fits"] == (entry["chosen"] is not None)
        assert entry["fits"] == (entry["accuracy"] is not None)
        if entry["fits"]:
            assert entry["chosen"]["estimated"]["lut"] <= 1400
            assert 0 <= entry["accuracy"]["reference"] <= 1
    single = report["single_precision"]
    assert len({layer["precision"] for layer in single["layers"]}) == 1
    assert single["estimated"]["lut"] <= 1400
    assert report["pareto"] and all(point["estimated_lut"] > 0 for point in report["pareto"])
    json.dumps(report)
    # a rerun reads every job from the cache and finds the same designs
    again = search_designs(config, budget, "ice40", ("binary", "int2"), workers=2,
                           cache=tmp_path / "cache", progress=False)
    assert {a: d.accuracy for a, d in again.evaluations.items()} == {
        a: d.accuracy for a, d in trace.evaluations.items()}
    write_pareto_plot(tmp_path / "pareto.png", trace, None, None, "ice40")
    assert (tmp_path / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
