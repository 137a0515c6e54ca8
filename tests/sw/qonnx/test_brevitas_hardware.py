"""Imported Brevitas models in hardware: the generated design in Verilator matches the integer
reference of the import, bit for bit, at every layer."""

from __future__ import annotations

import numpy as np

from qnnforge.hw.compiler.generate import generate
from qnnforge.sim.verify import verify_network
from qnnforge.sw.qonnx.importer import import_qonnx


def test_imported_binary_mlp_in_verilator(brevitas_mlps, digits, tmp_path):
    artifact = import_qonnx(brevitas_mlps["binary"])
    design = generate(artifact, tmp_path / "hw")
    codes = artifact.input.quantize(digits.x_test.astype(np.float32))
    result = verify_network(artifact, design, codes, tmp_path / "sim")
    assert result.samples == 360
    assert result.mismatches == 0 and result.stalled_mismatches == 0


def test_imported_tfc_w1a1_in_verilator(tfc, tmp_path):
    artifact = import_qonnx(tfc)
    design = generate(artifact, tmp_path / "hw")
    x = np.random.default_rng(2).uniform(0, 1, size=(4, 1, 28, 28)).astype(np.float32)
    result = verify_network(artifact, design, artifact.input.quantize(x), tmp_path / "sim")
    assert result.samples == 4
    assert result.mismatches == 0 and result.stalled_mismatches == 0
