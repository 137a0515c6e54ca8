"""The command line, as a user runs it: train -> generate -> verify, and clear errors."""

import json

import pytest

from qnnforge.cli import main


def test_help_lists_the_flow(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "generate", "verify", "demo"):
        assert command in out


def test_train_generate_verify_step_by_step(tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["train", "--out", str(model)]) == 0
    metadata = json.loads((model / "manifest.json").read_text())["metadata"]
    assert metadata["test_samples"] == 360 and metadata["quantized_accuracy"] >= 0.95
    assert main(["generate", str(model), "--out", str(tmp_path / "hw")]) == 0
    assert (tmp_path / "hw" / "qnnforge_top.v").exists()
    assert main(["verify", str(model), "--out", str(tmp_path / "verify"), "--samples", "40"]) == 0
    report = json.loads((tmp_path / "verify" / "verify.json").read_text())
    assert report["samples"] == 40 and report["mismatches"] == 0
    assert report["stalled_mismatches"] == 0
    assert "samples verified" in capsys.readouterr().out


def test_missing_artifact_is_a_clear_error(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == \
        f"qnnforge: error: {tmp_path / 'nowhere'}: not an artifact directory"


def test_bad_folding_is_a_clear_error(tmp_path, capsys):
    from tests.hw.layers import random_network
    import numpy as np

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")
    assert main(["generate", str(tmp_path / "model"), "--fold", "0:3x4",
                 "--out", str(tmp_path / "hw")]) == 2
    assert capsys.readouterr().err.strip() == \
        "qnnforge: error: layer 0: PE must divide the fan-out 8, not 3"
    assert not (tmp_path / "hw").exists()


def test_generate_with_the_compressor_popcount(tmp_path):
    from tests.hw.layers import random_network
    import numpy as np

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")
    assert main(["generate", str(tmp_path / "model"), "--popcount", "compressor",
                 "--lut-inputs", "4", "--out", str(tmp_path / "hw")]) == 0
    summary = json.loads((tmp_path / "hw" / "design.json").read_text())
    assert summary["popcount"] == {"architecture": "compressor", "lut_inputs": 4}


def test_train_with_mixed_precision_and_a_layer_override(tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["train", "--out", str(model), "--precision", "mixed", "--epochs", "2",
                 "--hidden", "32,16", "--layer-precision", "1=int4"]) == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["metadata"]["training"]["precision"] == {
        "preset": "mixed", "layers": ["int8", "int4", "int8"]}
    assert [layer["weight_encoding"] for layer in manifest["layers"]] == [
        {"kind": "int", "bits": 8}, {"kind": "int", "bits": 4}, {"kind": "int", "bits": 8}]
    assert [layer["output"]["kind"] for layer in manifest["layers"]] == [
        "requantize", "multithreshold", "scores"]
    assert "int8, int4, int8" in capsys.readouterr().out


def test_bad_layer_precision_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "model"), "--precision", "binary",
                 "--layer-precision", "1=int4"]) == 2
    assert capsys.readouterr().err.strip() == (
        "qnnforge: error: layer 1: int4 weights need fixed-point inputs, but layer 0 (binary) "
        "outputs bipolar activations")
    with pytest.raises(SystemExit):
        main(["train", "--layer-precision", "1:int4"])
    assert "LAYER=PRECISION" in capsys.readouterr().err
