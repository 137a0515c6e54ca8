"""``qnnforge export``: the file it writes, and a clear one-line error for every bad argument."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from qnnforge.cli import main
from qnnforge.sw import reference
from qnnforge.sw.artifact import Artifact, DenseLayer, InputQuantizer, ScoreOutput
from qnnforge.sw.encoding import BIPOLAR, uint
from qnnforge.sw.qonnx.exporter import execute, onnx_inputs

from ...hw.layers import random_cnn
from ..conftest import tiny_artifact


@pytest.fixture
def saved(tmp_path):
    artifact = random_cnn(np.random.default_rng(0), "fixed")
    return artifact, artifact.save(tmp_path / "model")


def test_export_writes_a_model_the_executor_runs(saved, tmp_path, capsys):
    artifact, path = saved
    out = tmp_path / "out" / "model.onnx"
    assert main(["export", str(path), "--format", "qonnx", "--out", str(out)]) == 0
    model = onnx.load(out)
    assert capsys.readouterr().out == (
        f"wrote {out} (QONNX, {len(model.graph.node)} nodes; float64 parts: none)\n")
    onnx.checker.check_model(model)
    raw = np.random.default_rng(1).integers(0, 4, (30, artifact.in_features))
    np.testing.assert_array_equal(execute(model, onnx_inputs(artifact, raw)),
                                  reference.run(artifact, raw).scores)


def test_a_bad_format_is_refused_by_the_parser(saved, tmp_path, capsys):
    _, path = saved
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "qnnforge export: error: argument --format: invalid choice: 'onnx' (choose from "
        "'qonnx')")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_paths_are_clear_errors(saved, tmp_path, capsys):
    _, path = saved
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err == (
        f"qnnforge: error: {tmp_path / 'nowhere'}: not an artifact directory\n")
    assert main(["export", str(path), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {tmp_path}: is a directory\n"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    assert main(["export", str(path), "--out", str(blocker / "m.onnx")]) == 2
    assert capsys.readouterr().err == (
        f"qnnforge: error: {blocker / 'm.onnx'}: cannot write ({blocker} is not a directory)\n")
    assert not (tmp_path / "m.onnx").exists()


def test_a_refused_export_leaves_the_previous_file(tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", str(tiny_artifact().save(tmp_path / "tiny")), "--out", str(out)]) == 0
    before = out.read_bytes()
    wide = Artifact("wide", InputQuantizer(uint(25), 0, 10, 1, 0), (
        DenseLayer("fc0", uint(25), BIPOLAR, np.ones((2, 3), dtype=np.int64),
                   ScoreOutput(np.zeros(2, dtype=np.int64))),))
    capsys.readouterr()
    assert main(["export", str(wide.save(tmp_path / "wide")), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "qnnforge: error: input.encoding: uint25 codes reach 33554431, but QONNX's Quant emits "
        "float32, which holds integers exactly only below 2**24\n")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "tiny", "wide"]
