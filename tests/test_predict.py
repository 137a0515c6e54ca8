"""``qnnforge predict``: your own inputs through the reference or the hardware, and clear errors.

The artifact is a small MLP trained by the demo's pipeline; the reference path classifies all
360 held-out digits, the hardware path a handful in Verilator (which checks every layer).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qnnforge.cli import main
from qnnforge.sw import reference
from qnnforge.sw.artifact import ThresholdActivation, load_artifact
from qnnforge.sw.config import TrainConfig
from qnnforge.sw.data import load_digits_split
from qnnforge.sw.pipeline import train_and_export


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    trained = train_and_export(TrainConfig(hidden=(16,), epochs=3))
    return trained.artifact.save(tmp_path_factory.mktemp("predict") / "model")


def test_reference_classes_of_every_held_out_digit(model, digits, tmp_path, capsys):
    inputs, out = tmp_path / "x.npy", tmp_path / "classes.npy"
    np.save(inputs, digits.x_test)
    assert main(["predict", str(model), "--inputs", str(inputs), "--out", str(out)]) == 0
    classes = np.load(out)
    assert classes.dtype == np.int64 and classes.shape == (360,)
    np.testing.assert_array_equal(classes, reference.predict(load_artifact(model), digits.x_test))
    assert np.mean(classes == digits.y_test) > 0.5
    assert capsys.readouterr().out == f"wrote {out}: 360 classes from the integer reference\n"
    # integer-valued floats are the same inputs
    np.save(inputs, digits.x_test.astype(np.float32))
    assert main(["predict", str(model), "--inputs", str(inputs), "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), classes)


def test_hardware_classes_in_verilator(model, digits, tmp_path, capsys):
    inputs, out = tmp_path / "x.npy", tmp_path / "classes.npy"
    np.save(inputs, digits.x_test[:6])
    assert main(["predict", str(model), "--inputs", str(inputs), "--out", str(out),
                 "--hardware", "--work", str(tmp_path / "work")]) == 0
    np.testing.assert_array_equal(
        np.load(out), reference.predict(load_artifact(model), digits.x_test[:6]))
    assert (tmp_path / "work" / "hw" / "qnnforge_top.v").exists()
    assert capsys.readouterr().out.endswith(
        f"wrote {out}: 6 classes from the hardware (Verilator, equal to the reference)\n")


def test_a_hardware_mismatch_fails_and_writes_nothing(model, digits, tmp_path, monkeypatch,
                                                      capsys):
    import qnnforge.hw.compiler.generate as generate_module

    # the design of the trained model, but an artifact whose hidden thresholds were moved
    design = generate_module.generate(load_artifact(model), tmp_path / "design")
    artifact = load_artifact(model)
    hidden = artifact.layers[0]
    moved = ThresholdActivation(hidden.output.thresholds + 40, hidden.output.directions)
    corrupted = dataclasses.replace(
        artifact, layers=(dataclasses.replace(hidden, output=moved), *artifact.layers[1:]))
    monkeypatch.setattr(generate_module, "generate", lambda *args, **kwargs: design)
    inputs, out = tmp_path / "x.npy", tmp_path / "classes.npy"
    np.save(inputs, digits.x_test[:4])
    assert main(["predict", str(corrupted.save(tmp_path / "corrupted")), "--inputs",
                 str(inputs), "--out", str(out), "--hardware", "--work",
                 str(tmp_path / "work")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qnnforge: verification failed: sample 0, layer fc0, element ")
    assert not out.exists()


def _bad_inputs(tmp_path, content) -> str:
    path = tmp_path / "x.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    return str(path)


@pytest.mark.parametrize("content, message", [
    (b"pixel,pixel\n1,2\n", "not a .npy file"),
    (np.array([[object()] * 64], dtype=object),
     "holds Python objects (dtype object), not numbers"),
    (np.zeros((3, 63), dtype=np.int64), "inputs must have shape (n, 64), not (3, 63)"),
    (np.zeros(64, dtype=np.int64), "inputs must have shape (n, 64), not (64,)"),
    (np.zeros((0, 64), dtype=np.int64), "holds no inputs"),
    (np.full((2, 64), 17), "raw features must lie in 0..16, not 17..17"),
    (np.full((2, 64), -1), "raw features must lie in 0..16, not -1..-1"),
    (np.full((2, 64), 0.5), "raw features must be integers"),
    (np.full((2, 64), "7"), "raw features must be an integer array, not <U1"),
])
def test_bad_inputs_are_clear_errors(model, tmp_path, capsys, content, message):
    inputs = _bad_inputs(tmp_path, content)
    out = tmp_path / "classes.npy"
    assert main(["predict", str(model), "--inputs", inputs, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {inputs}: {message}\n"
    assert not out.exists()


def test_missing_inputs_and_bad_outputs_are_clear_errors(model, digits, tmp_path, capsys):
    missing = tmp_path / "none.npy"
    assert main(["predict", str(model), "--inputs", str(missing), "--out", "c.npy"]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {missing}: no such file\n"
    assert main(["predict", str(model), "--inputs", str(tmp_path), "--out", "c.npy"]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {tmp_path}: not a regular file\n"
    inputs = tmp_path / "x.npy"
    np.save(inputs, digits.x_test[:3])
    assert main(["predict", str(model), "--inputs", str(inputs), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {tmp_path}: is a directory\n"
    assert main(["predict", str(tmp_path / "nowhere"), "--inputs", str(inputs),
                 "--out", "c.npy"]) == 2
    assert capsys.readouterr().err == (
        f"qnnforge: error: {tmp_path / 'nowhere'}: not an artifact directory\n")


def test_classes_replace_an_old_file_atomically(model, digits, tmp_path, monkeypatch, capsys):
    inputs, out = tmp_path / "x.npy", tmp_path / "classes.npy"
    np.save(inputs, digits.x_test[:5])
    out.write_bytes(b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("qnnforge.sw.files.os.replace", fail)
    assert main(["predict", str(model), "--inputs", str(inputs), "--out", str(out)]) != 0
    assert f"{out}: cannot write (disk full)" in capsys.readouterr().err
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.npy", "x.npy"]
