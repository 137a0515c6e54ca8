"""bench/sfc.py: SFC's topology and MAC count, the point layout, the ratio and FINN's point."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sfc():
    sys.path.insert(0, str(ROOT / "bench"))  # sfc.py imports cnv.py beside it, as when run
    try:
        spec = importlib.util.spec_from_file_location("bench_sfc", ROOT / "bench" / "sfc.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


def test_sfc_topology_and_macs(sfc):
    artifact = sfc.sfc_artifact(0)
    assert [(layer.in_features, layer.out_features) for layer in artifact.layers] == [
        (784, 256), (256, 256), (256, 256), (256, 10)]
    assert sfc.MACS_PER_IMAGE == 334336
    first = artifact.layers[0]
    assert (first.input_encoding.kind, first.input_encoding.bits) == ("uint", 1)
    assert all(layer.weight_encoding.kind == "bipolar" for layer in artifact.layers)
    assert artifact.layers[-1].output.kind == "scores"
    assert sfc.FOLDINGS == (1024, 256, 64, 16)


def test_ratio_is_luts_per_mac_a_cycle(sfc):
    # FINN SFC-max: 91,131 LUT at 16.2 cycles per image is 4.4 LUT per (MAC/cycle)
    finn = sfc.FINN_SFC_MAX
    assert (finn["cycles_per_image"], finn["lut"]) == (16.2, 91131)
    assert sfc.lut_per_mac_cycle(finn["lut"], finn["cycles_per_image"]) == 4.42
    assert sfc.lut_per_mac_cycle(13381, 1024) == 40.98  # the 1024-cycle figure, 41.0


def test_document_layout(sfc):
    done = sfc.point(256, 10.04, 70.26, {"lut": 3343, "lut_logic": 3087, "lut_memory": 256,
                                         "ff": 900, "bram": 2}, "ok", 0,
                     constant=sfc.constant_point(256, 80.04, 4000, "ok"))
    timed_out = sfc.point(16, 200.0, 1800.0, None, "timeout")
    document = json.loads(json.dumps(sfc.report([timed_out, done])))
    assert document["macs_per_image"] == 334336
    assert [entry["cycles_per_image"] for entry in document["points"]] == [256, 16]
    assert document["points"][0] == {
        "cycles_per_image": 256, "lut": 3343, "lut_logic": 3087, "lut_memory": 256, "ff": 900,
        "bram": 2, "lut_per_mac_cycle": 2.56,
        "generate_s": 10.0, "synth_s": 70.3, "synth_status": "ok",
        "constant_weights": {"lut": 4000, "lut_per_mac_cycle": 3.06, "synth_s": 80.0,
                             "synth_status": "ok"},
        "verilator_mismatches": 0}
    assert document["points"][1] == {
        "cycles_per_image": 16, "lut": None, "lut_logic": None, "lut_memory": None, "ff": None,
        "bram": None,
        "lut_per_mac_cycle": None, "generate_s": 200.0, "synth_s": 1800.0,
        "synth_status": "timeout"}
    assert set(sfc.POINT_KEYS) <= set(document["points"][1])
    assert document["finn_sfc_max"]["lut"] == 91131


def test_plot_is_written(sfc, tmp_path):
    document = sfc.report([sfc.point(1024, 1.0, 2.0, {"lut": 9000, "lut_logic": 9000, "lut_memory": 0,
                                                     "ff": 1, "bram": 0}, "ok"),
                           sfc.point(16, 1.0, 2.0, None, "timeout")])
    sfc.write_plot(document, tmp_path / "sfc.png")
    assert (tmp_path / "sfc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_section_renders_points_and_finn(sfc):
    spec = importlib.util.spec_from_file_location("bench_readme", ROOT / "bench" / "readme.py")
    readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme)
    document = sfc.report([sfc.point(1024, 6.2, 300.4, {"lut": 9000, "lut_logic": 8800,
                                                                   "lut_memory": 200, "ff": 3000,
                                                                   "bram": 11},
                                     "ok", 0, constant=sfc.constant_point(1024, 1.0, 9500, "ok")),
                           sfc.point(16, 250.0, 1500.0, None, "timeout")])
    section = readme.sfc_section(document)
    assert "| 1024 | 9,000 (200) | 3,000 | 11 | 27.57 | 9,500 (29.10) | 6 s | 300 s | 0 |" in section
    assert "| 16 | – | – | – | – | – | 250 s | timeout after 1500 s | – |" in section
    assert "| FINN SFC-max, 16.2 | 91,131 | | | 4.42 | | | | |" in section


def test_a_run_keeps_the_points_it_does_not_measure(sfc, tmp_path):
    path = tmp_path / "sfc.json"
    assert sfc.kept_points(path, [16]) == []
    document = sfc.report([sfc.point(1024, 1.0, 2.0, {"lut": 9000, "lut_logic": 9000, "lut_memory": 0,
                                                     "ff": 1, "bram": 0}, "ok"),
                           sfc.point(16, 1.0, 2.0, None, "timeout")])
    path.write_text(json.dumps(document))
    assert [entry["cycles_per_image"] for entry in sfc.kept_points(path, [16, 64])] == [1024]
