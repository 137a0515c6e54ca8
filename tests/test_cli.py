"""The command line, as a user runs it: train -> generate -> verify, and clear errors."""

import json

import numpy as np
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
    trained = json.loads((model / "train.json").read_text())
    assert trained["quantized_accuracy"] == metadata["quantized_accuracy"]
    assert trained["environment"]["seed"] == 0 and trained["environment"]["threads"]["torch"] == 1
    assert main(["generate", str(model), "--out", str(tmp_path / "hw")]) == 0
    assert (tmp_path / "hw" / "qnnforge_top.v").exists()
    assert main(["verify", str(model), "--out", str(tmp_path / "verify"), "--samples", "40"]) == 0
    report = json.loads((tmp_path / "verify" / "verify.json").read_text())
    assert report["samples"] == 40 and report["mismatches"] == 0
    assert report["stalled_mismatches"] == 0
    assert report["environment"]["seed"] == 1 and list(report["environment"]["tools"]) == [
        "verilator"]
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


def test_generate_asks_for_block_ram_from_a_depth(tmp_path, capsys):
    from tests.hw.layers import random_network
    import numpy as np

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")
    # PE = SIMD = 1: the weight memories hold 128 and 32 words
    args = ["generate", str(tmp_path / "model"), "--fold", "0:1x1", "--fold", "1:1x1"]
    assert main([*args, "--block-rom-words", "100", "--out", str(tmp_path / "hw")]) == 0
    assert (tmp_path / "hw" / "qnnforge_top.v").read_text().count('rom_style = "block"') == 1
    summary = json.loads((tmp_path / "hw" / "design.json").read_text())
    assert summary["memories"] == {"block_rom_words": 100, "whole_word_writes": False,
                                   "writable_weights": False}
    with pytest.raises(SystemExit):
        main([*args, "--block-rom-words", "0", "--out", str(tmp_path / "bad")])
    assert capsys.readouterr().err.splitlines()[-1] == \
        "qnnforge generate: error: argument --block-rom-words: must be a positive integer, not 0"
    assert not (tmp_path / "bad").exists()


def test_generate_with_writable_weights_gives_the_top_a_weight_stream(tmp_path):
    from tests.hw.layers import random_network
    import numpy as np

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")
    args = ["generate", str(tmp_path / "model"), "--fold", "0:2x8", "--fold", "1:1x4"]
    assert main([*args, "--writable-weights", "--out", str(tmp_path / "hw")]) == 0
    verilog = (tmp_path / "hw" / "qnnforge_top.v").read_text()
    assert "input [7:0] w_stream__payload;" in verilog  # the widest layer's SIMD, 8
    summary = json.loads((tmp_path / "hw" / "design.json").read_text())
    assert summary["memories"]["writable_weights"] is True
    # fc0: PE 2, SIMD 8 of 16 inputs, 4 x 2 steps of 2 beats; fc1: PE 1, SIMD 4 of 8, 4 x 2 steps
    assert summary["weight_stream"] == {"beat_bits": 8, "layers": [
        {"name": "fc0", "beats": 16, "beat_bits": 8}, {"name": "fc1", "beats": 8, "beat_bits": 4}]}
    assert main([*args, "--out", str(tmp_path / "fixed")]) == 0
    assert "w_stream" not in (tmp_path / "fixed" / "qnnforge_top.v").read_text()
    assert "weight_stream" not in json.loads((tmp_path / "fixed" / "design.json").read_text())


def test_generate_pipelined_predicts_the_longer_latency(tmp_path, capsys):
    from tests.hw.layers import random_network
    import numpy as np

    random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")
    for levels in (0, 1):
        assert main(["generate", str(tmp_path / "model"), "--pipeline", str(levels),
                     "--out", str(tmp_path / f"hw{levels}")]) == 0
    plain, pipelined = (json.loads((tmp_path / f"hw{levels}" / "design.json").read_text())
                        for levels in (0, 1))
    assert pipelined["pipeline"] == {"levels": 1} and plain["pipeline"] == {"levels": 0}
    assert pipelined["cycles_per_inference"] == plain["cycles_per_inference"]
    assert pipelined["latency_cycles"] > plain["latency_cycles"]
    with pytest.raises(SystemExit):
        main(["generate", str(tmp_path / "model"), "--pipeline", "-1"])
    assert "argument --pipeline: must be a non-negative integer, not -1" in capsys.readouterr().err


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


@pytest.fixture
def small_model(tmp_path):
    from tests.hw.layers import random_network
    import numpy as np

    return random_network(np.random.default_rng(0), [16, 8, 4]).save(tmp_path / "model")


@pytest.mark.parametrize("options, message", [
    (["--fold", "0-3x4"],
     "folding must look like LAYER:PExSIMD (e.g. 0:8x16 or conv0:4x9), not '0-3x4'"),
    (["--fold", "0:0x4"], "PE must be a positive integer, not 0"),
    (["--fold", "1:4x4", "--fold", "1:2x4"], "folding for layer 1 is given twice"),
    (["--fold", "1:4x9"], "layer 1: SIMD must not exceed the fan-in 8, not 9"),
    (["--target-cycles", "0"], "target cycles must be a positive integer, not 0"),
])
def test_bad_folding_specs_are_clear_errors(small_model, tmp_path, capsys, options, message):
    assert main(["generate", str(small_model), *options, "--out", str(tmp_path / "hw")]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {message}\n"
    assert not (tmp_path / "hw").exists()


def test_bad_training_values_are_clear_errors(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "model"), "--epochs", "0"]) == 2
    assert capsys.readouterr().err == "qnnforge: error: epochs must be a positive integer, not 0\n"
    assert main(["train", "--out", str(tmp_path / "model"), "--input-bits", "9"]) == 2
    assert capsys.readouterr().err == "qnnforge: error: input_bits must be at most 8, not 9\n"
    assert not (tmp_path / "model").exists()


def test_bad_simulation_values_are_refused_by_the_parser(small_model, capsys):
    for option in (["--stall", "1.5"], ["--backpressure", "x"], ["--samples", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["verify", str(small_model), *option])
        assert exit_info.value.code == 2
    assert "argument --stall: must lie in [0, 1), not 1.5" in capsys.readouterr().err


@pytest.mark.parametrize("command, message", [
    (["build", "{model}", "--board", "icebreaker", "--baud", "0"],
     "argument --baud: must be a positive integer, not 0"),
    (["build", "{model}", "--board", "icebreaker", "--clock-mhz", "-5"],
     "argument --clock-mhz: must be a positive number, not -5"),
    (["build", "{model}", "--board", "icebreaker", "--target-cycles", "0"],
     "argument --target-cycles: must be a positive integer, not 0"),
    (["cost", "--jobs", "0"], "argument --jobs: must be a positive integer, not 0"),
    (["run", "{model}", "--port", "/dev/null", "--timeout", "nan"],
     "argument --timeout: must be a positive number, not nan"),
    (["run", "{model}", "--port", "/dev/null", "--baud", "x"],
     "argument --baud: must be a positive integer, not 'x'"),
])
def test_bad_numbers_are_refused_by_the_parser(small_model, capsys, command, message):
    with pytest.raises(SystemExit) as exit_info:
        main([part.format(model=small_model) for part in command])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"qnnforge {command[0]}: error: {message}"


def test_cost_rejects_bad_lanes_as_a_usage_error(tmp_path, capsys):
    assert main(["cost", "--lanes", "4,0", "--json", str(tmp_path / "cost.json")]) == 2
    assert capsys.readouterr().err == \
        "qnnforge: error: lanes must be integers of at least 2, not 0\n"
    assert list(tmp_path.iterdir()) == []


def test_bad_top_is_refused_by_the_parser(small_model, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", str(small_model), "--top", "9top"])
    assert exit_info.value.code == 2
    assert "argument --top: must be a Verilog identifier, not '9top'" in capsys.readouterr().err


def test_train_reports_a_reference_mismatch_as_a_verification_failure(tmp_path, capsys,
                                                                       monkeypatch):
    import numpy as np

    import qnnforge.sw.pipeline as pipeline

    monkeypatch.setattr(pipeline, "quantized_predict",
                        lambda model, codes: np.full(len(codes), 11))
    assert main(["train", "--out", str(tmp_path / "model"), "--epochs", "1",
                 "--hidden", "8"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qnnforge: verification failed: the integer reference disagrees with "
                          "the quantized model on 360 of 360 test samples (first: sample 0, ")
    assert not (tmp_path / "model").exists()


def test_train_writes_what_the_pipeline_returns(tmp_path, capsys):
    from qnnforge.sw.artifact import load_artifact

    assert main(["train", "--out", str(tmp_path / "model"), "--epochs", "1", "--hidden", "8",
                 "--precision", "int2", "--seed", "3", "--input-bits", "3"]) == 0
    artifact = load_artifact(tmp_path / "model")
    assert artifact.name == "digits-int2-mlp"
    assert artifact.metadata["training"] == {
        "hidden": [8], "epochs": 1, "input_bits": 3, "seed": 3,
        "precision": {"preset": "int2", "layers": ["int2", "int2"]}}
    out = capsys.readouterr().out
    assert f"{artifact.metadata['quantized_accuracy']:.4f}" in out and "int2, int2" in out


def test_train_a_cnn(tmp_path, capsys):
    from qnnforge.sw.artifact import load_artifact

    assert main(["train", "--out", str(tmp_path / "cnn"), "--arch", "cnn", "--channels", "8,16",
                 "--precision", "int4", "--epochs", "1"]) == 0
    artifact = load_artifact(tmp_path / "cnn")
    assert artifact.name == "digits-int4-cnn"
    assert [layer.name for layer in artifact.layers] == ["conv0", "conv1", "pool0", "fc0"]
    assert artifact.metadata["training"] == {
        "arch": "cnn", "channels": [8, 16], "epochs": 1, "input_bits": 4, "seed": 0,
        "precision": {"preset": "int4", "layers": ["int4", "int4", "int4"]}}
    assert "int4, int4, int4" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--arch", "rnn"], "argument --arch: invalid choice: 'rnn' (choose from "),
    (["--channels", "8,x"], "argument --channels: channels must be comma-separated integers, "
                            "not '8,x'"),
    (["--channels", "8,0"], "argument --channels: channels must be positive, not '8,0'"),
])
def test_bad_architecture_options_are_usage_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path / "m"), *args])
    assert exit_info.value.code == 2
    assert f"qnnforge train: error: {message}" in capsys.readouterr().err


def test_verify_of_an_artifact_that_does_not_read_the_digits_is_a_usage_error(tmp_path, capsys):
    from qnnforge.sw.artifact import Artifact, DenseLayer, InputQuantizer, ScoreOutput
    from qnnforge.sw.encoding import BIPOLAR, uint

    layer = DenseLayer("fc0", uint(4), BIPOLAR, np.ones((2, 64), dtype=np.int64),
                       ScoreOutput(np.zeros(2, dtype=np.int64)))
    model = Artifact("narrow", InputQuantizer(uint(4), 0, 15, 1, 0), (layer,)).save(
        tmp_path / "model")
    assert main(["verify", str(model), "--out", str(tmp_path / "verify")]) == 2
    assert capsys.readouterr().err == (
        "qnnforge: error: the artifact's input rule does not take the held-out digits (raw "
        "features must lie in 0..15, not 0..16); run it on your own inputs with qnnforge "
        "predict --hardware\n")
