"""The importer on graphs built here with ``onnx.helper``: qnnforge's own export format, every
refusal named in one message, unreadable files, and the ``qnnforge import`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qnnforge.cli import main
from qnnforge.sw.artifact import load_artifact
from qnnforge.sw.inputs import InputQuantizer
from qnnforge.sw.qonnx.importer import QonnxImportError, import_qonnx
from qnnforge.sw.reference import run
from tests.sw.conftest import assert_same_artifact, tiny_artifact

from .clients import execute

QONNX = "qonnx.custom_op.general"


def _model(path: Path, nodes, initializers: dict, in_shape, out_shape,
           metadata: dict | None = None) -> Path:
    from onnx import TensorProto, helper, numpy_helper, save

    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)
                     for name, value in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid(QONNX, 1)])
    for key, value in (metadata or {}).items():
        helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                       key: value})
    save(model, str(path))
    return path


def _node(op, inputs, output, name, **attributes):
    from onnx import helper

    domain = QONNX if op in ("Quant", "BipolarQuant", "MultiThreshold") else ""
    return helper.make_node(op, inputs, [output], name=name, domain=domain, **attributes)


def exported_tiny(path: Path) -> Path:
    """Write ``tests.sw.conftest.tiny_artifact`` in ``qnnforge export``'s QONNX format."""
    artifact = tiny_artifact()
    fc0, fc1 = artifact.layers
    nodes = [
        _node("Mul", ["global_in", "in_scale"], "x0", "input.mul"),
        _node("Add", ["x0", "half"], "x1", "input.add"),
        _node("Quant", ["x1", "one", "zero", "four"], "x2", "input.quant", signed=0, narrow=0,
              rounding_mode="FLOOR"),
        _node("BipolarQuant", ["fc0_w", "one"], "w0", "fc0.weights"),
        _node("MatMul", ["x2", "w0"], "a0", "fc0.matmul"),
        _node("Mul", ["a0", "fc0_dir"], "a1", "fc0.direction"),
        _node("MultiThreshold", ["a1", "fc0_t"], "y0", "fc0.threshold", out_scale=2.0,
              out_bias=-1.0),
        _node("BipolarQuant", ["fc1_w", "one"], "w1", "fc1.weights"),
        _node("MatMul", ["y0", "w1"], "a2", "fc1.matmul"),
        _node("Add", ["a2", "fc1_bias"], "global_out", "fc1.bias"),
    ]
    initializers = {
        "in_scale": 15 / 16, "half": 0.5, "one": 1.0, "zero": 0.0, "four": 4.0,
        "fc0_w": fc0.weights.T, "fc0_dir": fc0.output.directions,
        "fc0_t": fc0.output.thresholds[:, None], "fc1_w": fc1.weights.T,
        "fc1_bias": fc1.output.bias}
    return _model(path, nodes, initializers, [1, 4], [1, 2], {
        "qnnforge.name": artifact.name, "qnnforge.input": json.dumps(artifact.input.to_json()),
        "qnnforge.metadata": json.dumps(artifact.metadata)})


def test_the_export_format_imports_to_the_same_artifact(tmp_path):
    imported = import_qonnx(exported_tiny(tmp_path / "tiny.onnx"))
    assert isinstance(imported.input, InputQuantizer)
    assert_same_artifact(imported, tiny_artifact())


def test_the_export_format_agrees_with_qonnx_executor(tmp_path):
    path = exported_tiny(tmp_path / "tiny.onnx")
    artifact = import_qonnx(path)
    x = np.array(np.meshgrid(*[np.arange(0, 17, 4)] * 4)).reshape(4, -1).T
    execution = execute(path, x.astype(np.float32))
    trace = run(artifact, artifact.input.quantize(x))
    assert np.array_equal(execution.scores, trace.scores)
    assert np.array_equal(execution.codes[0], trace.outputs[0])


def test_a_graph_computing_another_input_rule_keeps_its_float_rule(tmp_path):
    path = exported_tiny(tmp_path / "tiny.onnx")
    from onnx import helper, load, save

    model = load(str(path))
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                   "qnnforge.input": json.dumps(InputQuantizer(
                                       tiny_artifact().input.encoding, 0, 16, 1, 0).to_json())})
    save(model, str(path))
    artifact = import_qonnx(path)
    assert artifact.input.kind == "float"
    assert artifact.input.quantize(np.array([[16, 15, 1, 0]])).tolist() == [[15, 14, 1, 0]]


def requantized_artifact():
    """A 4 -> 3 -> 2 network with 4-bit weights and an int8 requantization between."""
    from qnnforge.sw.artifact import Artifact, DenseLayer
    from qnnforge.sw.encoding import sint, uint
    from qnnforge.sw.outputs import RequantizeOutput, ScoreOutput

    fc0 = DenseLayer("fc0", uint(4), sint(4), np.array([[3, -8, 7, 1], [-2, 5, 0, 4],
                                                        [7, 7, -8, -1]]),
                     RequantizeOutput(multiplier=np.array([3, 5, -2]), shift=np.array([2, 3, 1]),
                                      offset=np.array([2, 4, 1]), zero_point=np.array([0, 1, -1]),
                                      encoding=sint(8)))
    fc1 = DenseLayer("fc1", sint(8), sint(4), np.array([[1, -3, 2], [-4, 2, 5]]),
                     ScoreOutput(bias=np.array([1, -1])))
    return Artifact("requantized", InputQuantizer(uint(4), 0, 15, 1, 0), (fc0, fc1))


def exported_requantized(path: Path) -> Path:
    """Write :func:`requantized_artifact` in ``qnnforge export``'s QONNX format."""
    artifact = requantized_artifact()
    fc0, fc1 = artifact.layers
    out = fc0.output
    nodes = [
        _node("Quant", ["global_in", "one", "zero", "four"], "x", "input.quant", signed=0,
              narrow=0, rounding_mode="FLOOR"),
        _node("Quant", ["fc0_w", "one", "zero", "four"], "w0", "fc0.weights", signed=1,
              narrow=0, rounding_mode="ROUND"),
        _node("MatMul", ["x", "w0"], "a0", "fc0.matmul"),
        _node("Mul", ["a0", "fc0_m"], "a1", "fc0.multiplier"),
        _node("Add", ["a1", "fc0_o"], "a2", "fc0.offset"),
        _node("Quant", ["a2", "fc0_s", "fc0_z", "eight"], "a3", "fc0.quant", signed=1, narrow=0,
              rounding_mode="FLOOR"),
        _node("Mul", ["a3", "fc0_inv"], "a4", "fc0.unscale"),
        _node("Add", ["a4", "fc0_z"], "y0", "fc0.zero_point"),
        _node("Quant", ["fc1_w", "one", "zero", "four"], "w1", "fc1.weights", signed=1,
              narrow=0, rounding_mode="ROUND"),
        _node("MatMul", ["y0", "w1"], "a5", "fc1.matmul"),
        _node("Add", ["a5", "fc1_bias"], "global_out", "fc1.bias"),
    ]
    initializers = {
        "one": 1.0, "zero": 0.0, "four": 4.0, "eight": 8.0, "fc0_w": fc0.weights.T,
        "fc0_m": out.multiplier, "fc0_o": out.offset, "fc0_s": 2.0 ** out.shift,
        "fc0_z": out.zero_point, "fc0_inv": 2.0 ** -out.shift, "fc1_w": fc1.weights.T,
        "fc1_bias": fc1.output.bias}
    return _model(path, nodes, initializers, [1, 4], [1, 2], {
        "qnnforge.name": artifact.name, "qnnforge.input": json.dumps(artifact.input.to_json()),
        "qnnforge.metadata": json.dumps(artifact.metadata)})


def test_the_export_format_of_a_requantization_imports_to_the_same_artifact(tmp_path):
    path = exported_requantized(tmp_path / "requantized.onnx")
    imported = import_qonnx(path)
    assert_same_artifact(imported, requantized_artifact())
    x = np.random.default_rng(3).integers(0, 16, size=(500, 4))
    execution = execute(path, x.astype(np.float32))
    trace = run(imported, imported.input.quantize(x))
    assert np.array_equal(execution.scores, trace.scores)


def unsupported(path: Path) -> Path:
    """A model with three nodes that have no exact integer form, in different stages."""
    nodes = [
        _node("Quant", ["global_in", "one", "zero", "four"], "x", "in_quant", signed=0,
              narrow=0, rounding_mode="ROUND"),
        _node("Mul", ["x", "per_channel"], "x1", "odd_scale"),
        _node("Quant", ["w0f", "one", "zero", "two"], "w0", "w0_quant", signed=1, narrow=1,
              rounding_mode="ROUND"),
        _node("MatMul", ["x1", "w0"], "a0", "fc0"),
        _node("Sigmoid", ["a0"], "a1", "squash"),
        _node("Quant", ["a1", "one", "zero", "four"], "y0", "act0", signed=0, narrow=0,
              rounding_mode="ROUND"),
        _node("BipolarQuant", ["w1f", "one"], "w1", "w1_quant"),
        _node("MatMul", ["y0", "w1"], "a2", "fc1"),
        _node("Softmax", ["a2"], "global_out", "probabilities"),
    ]
    rng = np.random.default_rng(0)
    initializers = {"one": 1.0, "zero": 0.0, "four": 4.0, "two": 2.0,
                    "per_channel": np.linspace(0.5, 2, 4), "w0f": rng.normal(size=(4, 3)),
                    "w1f": rng.normal(size=(3, 2))}
    return _model(path, nodes, initializers, [1, 4], [1, 2])


UNSUPPORTED = (
    r"^.*bad\.onnx: 3 nodes cannot be imported:\n"
    r"  Sigmoid_0 \[squash\] \(Sigmoid\): a float activation without a quantizer has no exact "
    r"integer form\n"
    r"  Softmax_0 \[probabilities\] \(Softmax\): a float activation without a quantizer has no "
    r"exact integer form\n"
    r"  Mul_0 \[odd_scale\] \(Mul\): a per-channel scale after an activation quantizer has no "
    r"exact integer form$")


def test_every_unsupported_node_is_named_in_one_error(tmp_path):
    with pytest.raises(QonnxImportError, match=UNSUPPORTED):
        import_qonnx(unsupported(tmp_path / "bad.onnx"))


def test_import_command_writes_the_artifact(tmp_path, capsys):
    path = exported_tiny(tmp_path / "tiny.onnx")
    assert main(["import", str(path), "--out", str(tmp_path / "art")]) == 0
    assert_same_artifact(load_artifact(tmp_path / "art"), tiny_artifact())
    out = capsys.readouterr().out
    assert "imported tiny" in out and "fc0" in out and "threshold" in out


def test_import_command_refuses_unsupported_nodes_and_writes_nothing(tmp_path, capsys):
    path = unsupported(tmp_path / "bad.onnx")
    assert main(["import", str(path), "--out", str(tmp_path / "out" / "art")]) == 2
    error = capsys.readouterr().err
    assert re.match(r"^qnnforge: error: " + UNSUPPORTED[1:], error.rstrip("\n"), re.S)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    (b"not a model", r"not a readable ONNX model \(.*\)"),
    (b"", r"not a readable ONNX model \(it has no graph nodes\)"),
])
def test_import_command_reports_a_malformed_file(tmp_path, capsys, content, message):
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    assert main(["import", str(path), "--out", str(tmp_path / "art")]) == 2
    error = capsys.readouterr().err
    assert re.match(rf"^qnnforge: error: {re.escape(str(path))}: {message}\n$", error)
    assert "Traceback" not in error and not (tmp_path / "art").exists()


def test_import_command_reports_a_missing_file(tmp_path, capsys):
    assert main(["import", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "art")]) == 2
    assert capsys.readouterr().err == f"qnnforge: error: {tmp_path / 'none.onnx'}: no such file\n"


def test_a_residual_branch_names_both_readers(tmp_path):
    nodes = [
        _node("Quant", ["global_in", "one", "zero", "four"], "x", "in_quant", signed=0,
              narrow=0, rounding_mode="ROUND"),
        _node("BipolarQuant", ["w0f", "one"], "w0", "w0_quant"),
        _node("MatMul", ["x", "w0"], "a0", "fc0"),
        _node("Add", ["a0", "x"], "a1", "skip"),
        _node("BipolarQuant", ["a1", "one"], "y", "act0"),
        _node("BipolarQuant", ["w1f", "one"], "w1", "w1_quant"),
        _node("MatMul", ["y", "w1"], "global_out", "fc1"),
    ]
    path = _model(tmp_path / "residual.onnx", nodes, {
        "one": 1.0, "zero": 0.0, "four": 4.0, "w0f": np.ones((4, 4)), "w1f": np.ones((4, 2))},
        [1, 4], [1, 2])
    with pytest.raises(QonnxImportError, match=(
            r"^.*residual\.onnx: 2 nodes cannot be imported:\n"
            r"  MatMul_0 \[fc0\] \(MatMul\): the graph branches here; only a chain of layers is "
            r"supported\n"
            r"  Add_0 \[skip\] \(Add\): the graph branches here; only a chain of layers is "
            r"supported$")):
        import_qonnx(path)


def test_the_export_format_of_a_multithreshold_imports_to_the_same_artifact(tmp_path):
    from qnnforge.sw.artifact import Artifact, DenseLayer
    from qnnforge.sw.encoding import BIPOLAR, uint
    from qnnforge.sw.outputs import MultiThresholdActivation, ScoreOutput

    thresholds = np.array([[-5, 0, 7], [-60, -60, 61], [3, 3, 20]])
    fc0 = DenseLayer("fc0", uint(4), BIPOLAR, np.array([[1, -1, 1, 1], [-1, -1, 1, -1],
                                                        [1, 1, 1, 1]]),
                     MultiThresholdActivation(thresholds, np.array([1, -1, 1]), uint(2)))
    fc1 = DenseLayer("fc1", uint(2), BIPOLAR, np.array([[1, -1, 1], [-1, 1, 1]]),
                     ScoreOutput(bias=np.array([2, -3])))
    artifact = Artifact("levels", InputQuantizer(uint(4), 0, 15, 1, 0), (fc0, fc1))
    nodes = [
        _node("Quant", ["global_in", "one", "zero", "four"], "x", "input.quant", signed=0,
              narrow=0, rounding_mode="FLOOR"),
        _node("BipolarQuant", ["fc0_w", "one"], "w0", "fc0.weights"),
        _node("MatMul", ["x", "w0"], "a0", "fc0.matmul"),
        _node("Mul", ["a0", "fc0_dir"], "a1", "fc0.direction"),
        _node("MultiThreshold", ["a1", "fc0_t"], "y0", "fc0.multithreshold", out_scale=1.0,
              out_bias=0.0),
        _node("BipolarQuant", ["fc1_w", "one"], "w1", "fc1.weights"),
        _node("MatMul", ["y0", "w1"], "a2", "fc1.matmul"),
        _node("Add", ["a2", "fc1_bias"], "global_out", "fc1.bias"),
    ]
    path = _model(tmp_path / "levels.onnx", nodes, {
        "one": 1.0, "zero": 0.0, "four": 4.0, "fc0_w": fc0.weights.T,
        "fc0_dir": fc0.output.directions, "fc0_t": thresholds, "fc1_w": fc1.weights.T,
        "fc1_bias": fc1.output.bias}, [1, 4], [1, 2], {
        "qnnforge.name": "levels", "qnnforge.input": json.dumps(artifact.input.to_json()),
        "qnnforge.metadata": "{}"})
    assert_same_artifact(import_qonnx(path), artifact)
