"""The generated Verilog of every layer kind and precision passes ``verilator --lint-only -Wall``
with no warning outside the documented waivers (sim/lint.py's WAIVED)."""

import re

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import LayerFolding
from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.sim.lint import WAIVED, LintError, lint_verilog
from qnnforge.sw.artifact import Artifact, InputQuantizer, MaxPool2dLayer
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint

from ..hw.layers import mixed_layer, random_cnn, random_conv, random_network
from .test_mixed_network_cocotb import _mixed_network


def _dense(precision: str) -> Artifact:
    """Two dense layers of one precision, the second with scores."""
    rng = np.random.default_rng(5)
    weights, hidden, kind = {"ternary": (TERNARY, uint(2), "multithreshold"),
                             "int4": (sint(4), uint(4), "requantize")}[precision]
    layers = (mixed_layer(rng, 10, 6, uint(4), weights, kind, hidden, "fc0"),
              mixed_layer(rng, 6, 4, hidden, weights, "scores", None, "fc1"))
    return Artifact(precision, InputQuantizer(uint(4), 0, 15, 1, 0), layers)


def _unpadded_cnn() -> Artifact:
    """A 1x1 convolution and a 3x3 one with no padding, a pool, then scores."""
    rng = np.random.default_rng(9)
    conv0 = random_conv(rng, "conv0", (6, 5, 2), 3, uint(2), BIPOLAR, "threshold", BIPOLAR,
                        kernel=(1, 1), padding=(0, 0, 0, 0))
    conv1 = random_conv(rng, "conv1", conv0.out_shape, 4, BIPOLAR, BIPOLAR, "threshold",
                        BIPOLAR, padding=(0, 0, 0, 0))
    pool = MaxPool2dLayer("pool0", BIPOLAR, conv1.out_shape, (2, 1), (2, 1))
    dense = mixed_layer(rng, pool.out_features, 3, BIPOLAR, BIPOLAR, "scores", name="fc0")
    return Artifact("unpadded", InputQuantizer(uint(2), 0, 3, 1, 0), (conv0, conv1, pool, dense))


DESIGNS = {
    # every layer unfolded: SF = NF = 1, one input beat, one-word memories
    "binary-unfolded": lambda: (random_network(np.random.default_rng(3), [8, 6, 4]),
                                {0: LayerFolding(pe=6, simd=8), 1: LayerFolding(pe=4, simd=6)},
                                HardwareOptions()),
    "binary-folded": lambda: (random_network(np.random.default_rng(3), [18, 12, 9, 6]),
                              {0: LayerFolding(pe=3, simd=5), 1: LayerFolding(pe=9, simd=7),
                               2: LayerFolding(pe=2, simd=4)}, HardwareOptions()),
    "binary-compressor": lambda: (random_network(np.random.default_rng(4), [16, 8, 4]), {},
                                  HardwareOptions(popcount="compressor", lut_inputs=4)),
    "ternary": lambda: (_dense("ternary"), {}, HardwareOptions()),
    "int4-dsp": lambda: (_dense("int4"), {}, HardwareOptions()),
    "int4-luts": lambda: (_dense("int4"), {0: LayerFolding(pe=2, simd=3)},
                          HardwareOptions(dsp=False)),
    "mixed": lambda: (_mixed_network(np.random.default_rng(11)),
                      {0: LayerFolding(pe=2, simd=5), 1: LayerFolding(pe=3, simd=3),
                       2: LayerFolding(pe=6, simd=4), 3: LayerFolding(pe=2, simd=6)},
                      HardwareOptions(dsp=False)),
    "cnn-binary-padded": lambda: (random_cnn(np.random.default_rng(17), "binary", (7, 6, 2),
                                             (4, 6)), {}, HardwareOptions()),
    "cnn-fixed-padded": lambda: (random_cnn(np.random.default_rng(17), "fixed", (7, 6, 2),
                                            (4, 6)), {}, HardwareOptions()),
    "cnn-unpadded": lambda: (_unpadded_cnn(), {}, HardwareOptions()),
    # staged dot products, result registers, the argmax tree and the skid buffers
    "binary-folded-pipelined": lambda: (random_network(np.random.default_rng(3), [18, 12, 9, 6]),
                                        {0: LayerFolding(pe=3, simd=5),
                                         1: LayerFolding(pe=9, simd=7),
                                         2: LayerFolding(pe=2, simd=4)},
                                        HardwareOptions(pipeline=1)),
    "mixed-pipelined": lambda: (_mixed_network(np.random.default_rng(11)),
                                {0: LayerFolding(pe=2, simd=5), 1: LayerFolding(pe=3, simd=3),
                                 2: LayerFolding(pe=6, simd=4), 3: LayerFolding(pe=2, simd=6)},
                                HardwareOptions(dsp=False, pipeline=2)),
}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_generated_verilog_has_no_unwaived_lint_warning(name, tmp_path):
    artifact, overrides, options = DESIGNS[name]()
    design = generate(artifact, tmp_path, overrides=overrides, options=options)
    result = lint_verilog(design.verilog)
    assert not result.unwaived, "\n".join(f"{w.kind} line {w.line}: {w.message}"
                                          for w in result.unwaived)
    # the waived classes really are there (lint ran, and parsed what it printed)
    waived = result.counts(waived=True)
    assert waived["UNUSEDSIGNAL"] > 0 and waived["PROCASSINIT"] > 0
    assert set(waived) <= set(WAIVED)
    assert result.counts() == {}


def test_lint_reports_a_zero_width_wire_and_groups_by_class(tmp_path):
    """The canary: Verilog with our old defect (``wire [-1:0]``) and an unused input."""
    path = tmp_path / "canary.v"
    path.write_text("module canary(input clk, input [3:0] a, output [1:0] y);\n"
                    "  wire [-1:0] sf;\n"
                    "  assign y = a[1:0];\n"
                    "endmodule\n")
    result = lint_verilog(path)
    assert result.counts() == {"ASCRANGE": 1}
    assert [w.line for w in result.by_class()["ASCRANGE"]] == [2]
    assert result.counts(waived=True) == {"UNUSEDSIGNAL": 3}  # clk, a[3:2] and sf
    assert list(result.by_class()) == ["ASCRANGE", "UNUSEDSIGNAL"]


def test_lint_error_names_the_file_and_verilators_message(tmp_path):
    path = tmp_path / "broken.v"
    path.write_text("module broken(input a, output b);\n  assign b = a +;\nendmodule\n")
    with pytest.raises(LintError, match=rf"^verilator --lint-only failed on "
                                        rf"{re.escape(str(path))} \(exit 1\): %Error: "
                                        rf"{re.escape(str(path))}:2:\d+: syntax error"):
        lint_verilog(path)
