"""``qnnforge summary`` as a user runs it: the table, the JSON's keys and sums, the comparison
with a synthesis report, and clear errors."""

import json

import pytest

from qnnforge.cli import main
from qnnforge.hw.compiler.plan import default_folding
from qnnforge.hw.explore.estimate import estimate_resources
from qnnforge.sw.summary import COUNTS

from tests.sw.test_artifact_v3 import image_artifact

RESOURCES = {"lut", "ff", "bram", "dsp"}


@pytest.fixture
def model(tmp_path):
    image_artifact().save(tmp_path / "demo" / "model")
    return tmp_path / "demo" / "model"


def test_summary_writes_every_field(model, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["summary", str(model), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "conv0" in printed and "ice40 LUT/FF/BRAM/DSP" in printed and "total" in printed
    summary = json.loads(out.read_text())
    totals, layers = summary["totals"], summary["layers"]
    assert [layer["name"] for layer in layers] == ["conv0", "pool0", "fc0"]
    for layer in layers:
        assert {"op", "in_shape", "out_shape", "input_encoding", "weight_encoding",
                "output_encoding", "pe", "simd", "cycles", "latency_cycles", "memory_bits",
                *COUNTS} <= set(layer)
        assert set(layer["estimated"]) == {"ice40", "xc7"}
        assert all(set(entry) == RESOURCES for entry in layer["estimated"].values())
    for count in COUNTS:
        assert totals[count] == sum(layer[count] for layer in layers)
    assert totals["memory_bits"]["total"] == sum(layer["memory_bits"]["total"] for layer in layers)
    assert totals["bops"] == 1168 and totals["macs"] == 304
    artifact = image_artifact()
    folding = default_folding(artifact.layers)
    assert summary["folding"] == folding.to_json()
    for fabric in ("ice40", "xc7"):
        estimate = estimate_resources(artifact, folding, fabric)
        assert totals["estimated"][fabric] == {key: estimate[key] for key in RESOURCES}
        assert [layer["estimated"][fabric] for layer in layers] == list(
            estimate["layers"].values())
    assert "measured" not in totals


def test_every_fabric_is_estimated(model, tmp_path):
    out = tmp_path / "s.json"
    assert main(["summary", str(model), "--fabric", "ecp5,ice40,xc7", "--json", str(out)]) == 0
    estimated = json.loads(out.read_text())["totals"]["estimated"]
    assert list(estimated) == ["ecp5", "ice40", "xc7"]
    assert all(set(entry) == RESOURCES for entry in estimated.values())


def test_summary_follows_the_folding(model, tmp_path):
    out = tmp_path / "s.json"
    assert main(["summary", str(model), "--fold", "0:2x3", "--fold", "fc0:1x4",
                 "--fabric", "ice40", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    conv, _, dense = summary["layers"]
    assert (conv["pe"], conv["simd"], dense["pe"], dense["simd"]) == (2, 3, 1, 4)
    # the matrix takes 16 pixels x 3 steps, the window unit one beat per window element
    assert conv["cycles"] == max(16 * 3, 16 * 9) and dense["cycles"] == 2 * 2
    assert list(summary["totals"]["estimated"]) == ["ice40"]


def test_summary_compares_with_the_report_beside_it(model, tmp_path, capsys):
    artifact = image_artifact()
    folding = default_folding(artifact.layers)
    measured = {"ice40": {"lut": 100, "ff": 50, "bram": 0, "dsp": 0}}
    (model.parent / "report.json").write_text(json.dumps({"folding": folding.to_json(),
                                                          "resources": measured}))
    out = tmp_path / "s.json"
    assert main(["summary", str(model), "--json", str(out)]) == 0
    assert "estimate against the synthesis report" in capsys.readouterr().out
    found = json.loads(out.read_text())["totals"]["measured"]
    assert list(found) == ["ice40"]
    lut = estimate_resources(artifact, folding, "ice40")["lut"]
    assert found["ice40"]["measured"] == measured["ice40"]
    assert found["ice40"]["error"]["lut"] == pytest.approx((lut - 100) / 100)
    assert found["ice40"]["error"]["bram"] is None
    # another folding than the report's: the report is not this design's, so not compared
    assert main(["summary", str(model), "--fold", "0:2x3", "--json", str(out)]) == 0
    assert "measured" not in json.loads(out.read_text())["totals"]


@pytest.mark.parametrize("args, message", [
    (["--no-dsp"], "the ice40 estimate is calibrated for designs with DSP inference on, the "
                   "adder_tree popcount and pipeline 0, not off, adder_tree and 0"),
    (["--pipeline", "2"], "the ice40 estimate is calibrated for designs with DSP inference on, "
                          "the adder_tree popcount and pipeline 0, not on, adder_tree and 2"),
    (["--block-rom-words", "64"], "the ice40 estimate is calibrated for designs whose memories "
                                  "synthesis places, not with weight memories asked for block "
                                  "RAM from 64 words"),
    (["--writable-weights"], "the ice40 estimate is calibrated for designs whose memories "
                             "synthesis places, not with writable weights"),
    (["--fold", "0:3x1"], "layer 0: PE must divide the fan-out 2, not 3"),
    (["--report", "nowhere.json"], "--report nowhere.json: no such file"),
])
def test_summary_errors_are_clear(model, capsys, args, message):
    assert main(["summary", str(model), *args]) == 2
    assert capsys.readouterr().err.strip() == f"qnnforge: error: {message}"


def test_a_report_of_another_folding_is_refused(model, tmp_path, capsys):
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"folding": {"input_lanes": 1, "layers": []},
                                  "resources": {}}))
    assert main(["summary", str(model), "--report", str(report)]) == 2
    assert capsys.readouterr().err.strip().startswith(
        f"qnnforge: error: --report {report}: its folding {{'input_lanes': 1, 'layers': []}} "
        f"is not the summary's ")


def test_a_report_without_resources_is_refused(model, capsys):
    (model.parent / "report.json").write_text(json.dumps({"folding": {}}))
    assert main(["summary", str(model)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"qnnforge: error: {model.parent / 'report.json'}: has no 'resources' (the "
        f"report.json of qnnforge demo has)")
    (model.parent / "report.json").write_text("{")
    assert main(["summary", str(model), "--report", str(model.parent / "report.json")]) == 2
    assert capsys.readouterr().err.strip().startswith(
        f"qnnforge: error: --report {model.parent / 'report.json'}: not JSON (")


def test_unknown_fabrics_are_refused_by_the_parser(model, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", str(model), "--fabric", "ice40,stratix"])
    assert exit_info.value.code == 2
    assert ("argument --fabric: fabrics must be comma-separated names of ice40, xc7, ecp5, not "
            "'ice40,stratix'") in capsys.readouterr().err


def test_json_into_a_directory_is_a_clear_error(model, tmp_path, capsys):
    assert main(["summary", str(model), "--json", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"qnnforge: error: {tmp_path}: is a directory"
