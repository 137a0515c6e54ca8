"""Imported Brevitas models in hardware: the generated design in Verilator matches the integer
reference of the import, bit for bit, at every layer. (FINN's TFC, SFC and CNV take minutes to
build in Verilator: ``bench/qonnx.py`` runs them.)"""

from __future__ import annotations

import numpy as np

from qnnforge.hw.compiler.generate import generate
from qnnforge.sim.verify import verify_network
from qnnforge.sw.qonnx.importer import import_qonnx


def test_imported_binary_mlp_in_verilator(brevitas_mlps, digits, tmp_path):
    artifact = import_qonnx(brevitas_mlps["binary"])
    design = generate(artifact, tmp_path / "hw")
    # the bipolar input arrives as uint1: the first layer counts on XNOR-popcount lanes
    assert [entry["dot"] for entry in design.summary["layers"]] == ["xnor_uint1", "xnor"]
    codes = artifact.input.quantize(digits.x_test.astype(np.float32))
    result = verify_network(artifact, design, codes, tmp_path / "sim")
    assert result.samples == 360
    assert result.mismatches == 0 and result.stalled_mismatches == 0

