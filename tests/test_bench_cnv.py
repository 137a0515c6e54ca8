"""bench/cnv.py: FINN's CNV with FINN's cnv-w1a1 folding takes FINN's cycles in every layer."""

import importlib.util
from pathlib import Path

import pytest

from qnnforge.hw.compiler.plan import check_folding, cycle_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cnv():
    spec = importlib.util.spec_from_file_location("bench_cnv", ROOT / "bench" / "cnv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def artifact(cnv):
    return cnv.cnv_artifact(0)


def test_cnv_topology(cnv, artifact):
    shapes = [(layer.name, tuple(layer.out_shape)) for layer in artifact.layers]
    assert shapes == [("conv0", (30, 30, 64)), ("conv1", (28, 28, 64)), ("pool0", (14, 14, 64)),
                      ("conv2", (12, 12, 128)), ("conv3", (10, 10, 128)), ("pool1", (5, 5, 128)),
                      ("conv4", (3, 3, 256)), ("conv5", (1, 1, 256)), ("fc0", (512,)),
                      ("fc1", (512,)), ("fc2", (10,))]
    assert artifact.in_shape == (32, 32, 3) and artifact.input.encoding.bits == 8


def test_cnv_cycles_are_finns(cnv, artifact):
    folding = cnv.cnv_folding(artifact)
    check_folding(artifact.layers, folding)
    model = cycle_model(artifact.layers, folding)
    ours = [cycles for layer, cycles in zip(artifact.layers, model.layer_cycles)
            if layer.op != "maxpool2d"]
    finn = [cnv.finn_cycles(layer, pe, simd)
            for layer, (pe, simd) in zip(cnv.matrix_layers(artifact), cnv.FINN_MVAU)]
    # FINN's figures for cnv-w1a1, worked out by hand from OFM_H*OFM_W*NF*SF and NF*SF
    assert finn == [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768, 1024]
    assert ours == finn
    assert model.interval == 32768 and model.bottleneck == "fc0"


def test_layer_figures_fail_loudly_on_a_difference(cnv, artifact):
    summary = {"layers": [{"name": layer.name, "pe": pe, "simd": simd,
                           "cycles": cnv.finn_cycles(layer, pe, simd)}
                          for layer, (pe, simd) in zip(cnv.matrix_layers(artifact),
                                                       cnv.FINN_MVAU)]}
    assert len(cnv.layer_figures(artifact, summary)) == 9
    summary["layers"][3]["cycles"] += 1
    with pytest.raises(AssertionError, match=r"^conv3: 28801 cycles, FINN's formula gives "
                                             r"28800$"):
        cnv.layer_figures(artifact, summary)


def test_cnv_section_renders_the_side_by_side(cnv, artifact):
    spec = importlib.util.spec_from_file_location("bench_readme", ROOT / "bench" / "readme.py")
    readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme)
    layers = [{"name": layer.name, "pe": pe, "simd": simd, "cycles": 7, "finn_cycles": 7}
              for layer, (pe, simd) in zip(cnv.matrix_layers(artifact), cnv.FINN_MVAU)]
    layers[0]["window_lanes"] = 3
    report = {"layers": layers, "folding": {"finn_swu_simd": [3]}, "synthesis":
              {"status": "timeout", "seconds": 2400}, "lut": None, "ff": None, "bram": None,
              "dsp": None, "verilator": {"samples": 5, "mismatches": 0, "build_s": 60,
                                         "cycles_per_inference": 32768.0},
              "cycles_per_inference": 32768, "finn_max_cycles": 32768, "generate_s": 12.5,
              "peak_memory_mib": 212, "verilog_bytes": 4 << 20}
    section = readme.cnv_section(report)
    assert "| conv0 | 16 | 3 | 3 (3) | 7 | 7 |" in section
    assert "| fc2 | 5 | 1 | – | 7 | 7 |" in section
    assert "none: Yosys `synth_xilinx` timeout after 40 min" in section
    assert "5 random images, 0 mismatches; build 1 min" in section
