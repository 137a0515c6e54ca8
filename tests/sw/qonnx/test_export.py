"""The exported QONNX model, run by QONNX's own executor, computes the reference exactly.

Trained artifacts of every precision (MLPs and a CNN with padding and max-pool) are checked on
all 360 held-out digits: the executor's scores equal the reference's, and so do the quantized
activations at every layer boundary. Hand-built artifacts cover what training does not produce
(requantization with zero points and offsets, directions -1, non-zero padding, integers beyond
float32), and the refusals where no exact float graph exists.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings

from qnnforge.sw import reference
from qnnforge.sw.artifact import (Artifact, DenseLayer, InputQuantizer,
                                  MaxPool2dLayer, MultiThresholdActivation, RequantizeOutput,
                                  ScoreOutput, load_artifact)
from qnnforge.sw.config import TrainConfig
from qnnforge.sw.encoding import BIPOLAR, TERNARY, sint, uint
from qnnforge.sw.export import export_artifact
from qnnforge.sw.qonnx.exporter import (QONNX_DOMAIN, ExportError, execute, export_qonnx,
                                        float64_parts, onnx_inputs, qonnx_model)
from qnnforge.sw.train import train_quantized

from ...hw.layers import mixed_layer, random_cnn, random_conv, random_weights
from ..conftest import artifacts, tiny_artifact

TRAINED = {
    "binary-mlp": TrainConfig(hidden=(24, 16), epochs=2, precision="binary"),
    "ternary-mlp": TrainConfig(hidden=(16,), epochs=2, precision="ternary"),
    "int2-mlp": TrainConfig(hidden=(16,), epochs=2, precision="int2"),
    "int4-mlp": TrainConfig(hidden=(16,), epochs=2, precision="int4"),
    "int8-mlp": TrainConfig(hidden=(16,), epochs=2, precision="int8"),
    "mixed-mlp": TrainConfig(hidden=(16, 16), epochs=2, precision="mixed"),
    "binary-cnn": TrainConfig(arch="cnn", channels=(4, 4), epochs=1, precision="binary"),
    "int4-cnn": TrainConfig(arch="cnn", channels=(4, 4), epochs=1, precision="int4"),
    "mixed-cnn": TrainConfig(arch="cnn", channels=(4, 4), epochs=1, precision="mixed"),
    "ttq-mlp": TrainConfig(hidden=(16, 16), epochs=2, precision="ttq"),
    "codebook3-mlp": TrainConfig(hidden=(16, 16), epochs=2, precision="codebook3"),
}
"""Small, briefly trained networks: exactness does not depend on accuracy."""


@pytest.fixture(scope="module")
def trained(digits_split) -> dict[str, Artifact]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = {name: train_quantized(digits_split, config)
                   for name, config in TRAINED.items()}
    finally:
        torch.set_num_threads(threads)
    return {name: export_artifact(result.model, result.quantizer, name, {"config": name})
            for name, result in results.items()}


def boundary_names(model: onnx.ModelProto, artifact: Artifact) -> list[str]:
    """Return the tensor each layer of ``artifact`` ends in: its last node's output."""
    names = []
    for layer in artifact.layers:
        nodes = [node for node in model.graph.node if node.name.startswith(f"{layer.name}.")]
        names.append(nodes[-1].output[0])
    return names


def channels_last(values: np.ndarray) -> np.ndarray:
    """Return executor activations ``(n, C, H, W)`` or ``(n, F)`` flat, channels-last."""
    values = np.asarray(values)
    if values.ndim == 4:
        values = values.transpose(0, 2, 3, 1)
    return values.reshape(len(values), -1)


def assert_executor_matches(model: onnx.ModelProto, artifact: Artifact,
                            raw: np.ndarray) -> None:
    """Assert that QONNX's executor gives the reference's input codes, every layer's outputs
    and the scores, exactly, for raw features ``raw``."""
    trace = reference.run(artifact, artifact.input.quantize(raw))
    context = execute(model, onnx_inputs(artifact, raw), full_context=True)
    np.testing.assert_array_equal(channels_last(context["input.quant"]), trace.inputs)
    for layer, name, expected in zip(artifact.layers, boundary_names(model, artifact),
                                     trace.outputs):
        actual = channels_last(context[name])
        assert np.array_equal(actual, expected), f"layer {layer.name} ({name}) differs"
    np.testing.assert_array_equal(context["global_out"], trace.scores)
    assert np.argmax(context["global_out"], axis=1).tolist() == trace.classes.tolist()


def exported(artifact: Artifact, tmp_path) -> onnx.ModelProto:
    """Export ``artifact`` to a file, load the file back and check it with onnx's checker."""
    path, _ = export_qonnx(artifact, tmp_path / f"{artifact.name}.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


# --- trained artifacts, all 360 held-out digits ------------------------------------------------

@pytest.mark.parametrize("name", TRAINED)
def test_trained_artifact_is_exact_on_every_held_out_digit(trained, digits_split, tmp_path,
                                                           name):
    artifact = trained[name]
    model = exported(artifact, tmp_path)
    assert len(digits_split.x_test) == 360
    assert_executor_matches(model, artifact, digits_split.x_test)


def test_trained_cnn_is_an_nchw_graph_with_padding_pooling_and_a_flatten(trained, tmp_path):
    artifact = trained["binary-cnn"]
    model = exported(artifact, tmp_path)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 2 and ops.count("MaxPool") == 1 and ops.count("Flatten") == 1
    conv0 = next(node for node in model.graph.node if node.name == "conv0.conv")
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in conv0.attribute}
    assert attributes["pads"] == [1, 1, 1, 1]  # the input pads with 0: Conv's own pads
    # the bipolar activations pad with -1: an explicit Pad node before the second convolution
    pad = next(node for node in model.graph.node if node.name == "conv1.pad")
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert initializers[pad.input[2]] == -1
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 8, 8]


def test_int8_requantization_is_computed_in_float64(trained, tmp_path):
    # acc * multiplier + offset reaches about 2**32: float32 would round it
    artifact = trained["int8-mlp"]
    fc0 = artifact.layers[0]
    worst = fc0.accumulator_bound * int(np.abs(fc0.output.multiplier).max())
    assert worst >= 1 << 24
    model = exported(artifact, tmp_path)
    assert float64_parts(model) == ["fc0"]
    types = {value.name: value.type.tensor_type.elem_type for value in model.graph.value_info}
    assert types["fc0.matmul"] == onnx.TensorProto.FLOAT  # the bound 122880 fits float32
    assert types["fc0.offset"] == onnx.TensorProto.DOUBLE
    assert types["fc0.quant"] == onnx.TensorProto.FLOAT  # Quant emits float32: exact codes
    assert float64_parts(exported(trained["binary-mlp"], tmp_path)) == []


def test_the_file_runs_as_written_one_input_at_a_time(trained, digits_split, tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    artifact = trained["int4-cnn"]
    path, _ = export_qonnx(artifact, tmp_path / "model.onnx")
    wrapper = ModelWrapper(str(path))
    raw = digits_split.x_test[:3]
    expected = reference.run(artifact, artifact.input.quantize(raw)).scores
    for row, scores in zip(onnx_inputs(artifact, raw), expected):
        out = execute_onnx(wrapper, {"global_in": row[None]})["global_out"]
        np.testing.assert_array_equal(out, scores[None])


def test_metadata_names_and_domains(trained, tmp_path):
    artifact = trained["mixed-mlp"]
    model = exported(artifact, tmp_path)
    props = {prop.key: prop.value for prop in model.metadata_props}
    assert props["qnnforge.name"] == "mixed-mlp"
    assert json.loads(props["qnnforge.input"]) == artifact.input.to_json()
    assert json.loads(props["qnnforge.metadata"]) == {"config": "mixed-mlp"}
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 13), (QONNX_DOMAIN, 1)}
    names = [node.name for node in model.graph.node]
    assert len(set(names)) == len(names)
    layers = {"input", *(layer.name for layer in artifact.layers)}
    assert {name.split(".")[0] for name in names} == layers
    for node in model.graph.node:
        custom = node.op_type in ("Quant", "BipolarQuant", "MultiThreshold")
        assert node.domain == (QONNX_DOMAIN if custom else "")
    assert [node.op_type for node in model.graph.node if node.name.startswith("input.")] == [
        "Mul", "Add", "Quant"]
    assert model.graph.input[0].name == "global_in"
    assert model.graph.output[0].name == "global_out"


# --- hand-built artifacts: what training does not produce ----------------------------------------

def rare_cnn(rng) -> Artifact:
    """Every rare case at once: a strided, unevenly padded convolution with a non-zero pad value
    and a signed requantizer (zero points, offsets, negative multipliers, float64), a ternary
    convolution with multi-thresholds and directions -1, a max-pool, and int weights on a
    dense layer that reads the image."""
    x = uint(3)
    conv0 = random_conv(rng, "conv0", (7, 6, 2), 5, x, sint(4), "requantize", sint(5),
                        stride=(2, 1), padding=(2, 0, 1, 1), pad_value=5)
    conv1 = random_conv(rng, "conv1", conv0.out_shape, 4, sint(5), TERNARY, "multithreshold",
                        uint(3), padding=(1, 1, 1, 1), pad_value=-3)
    pool = MaxPool2dLayer("pool0", uint(3), conv1.out_shape, (2, 2), (1, 2))
    fc0 = mixed_layer(rng, pool.out_features, 6, uint(3), sint(7), "scores", name="fc0")
    quantizer = InputQuantizer(x, raw_min=-4, raw_max=40, multiplier=3, shift=4)
    return Artifact("rare-cnn", quantizer, (conv0, conv1, pool, fc0))


def rare_mlp(rng) -> Artifact:
    """Dense layers with requantizers of unsigned and signed outputs and multi-thresholds."""
    fc0 = mixed_layer(rng, 20, 12, uint(6), sint(8), "requantize", uint(8), name="fc0")
    fc1 = mixed_layer(rng, 12, 9, uint(8), sint(3), "requantize", sint(4), name="fc1")
    fc2 = mixed_layer(rng, 9, 7, sint(4), TERNARY, "multithreshold", uint(2), name="fc2")
    fc3 = mixed_layer(rng, 7, 4, uint(2), sint(16), "scores", name="fc3")
    quantizer = InputQuantizer(uint(6), raw_min=0, raw_max=1000, multiplier=7, shift=7)
    return Artifact("rare-mlp", quantizer, (fc0, fc1, fc2, fc3))


def random_raw(artifact: Artifact, rng, rows: int) -> np.ndarray:
    """Return raw features: all-minimum and all-maximum rows, then random ones."""
    rule = artifact.input
    raw = rng.integers(rule.raw_min, rule.raw_max, (rows, artifact.in_features), endpoint=True)
    raw[0], raw[1] = rule.raw_min, rule.raw_max
    return raw


@pytest.mark.parametrize("build", [rare_cnn, rare_mlp])
def test_rare_cases_are_exact(build, tmp_path):
    rng = np.random.default_rng(5)
    artifact = build(rng)
    outputs = [layer.output for layer in artifact.layers if layer.output is not None]
    requantizers = [o for o in outputs if isinstance(o, RequantizeOutput)]
    assert requantizers and all(np.any(o.zero_point != 0) and np.any(o.offset != 0)
                                and np.any(o.multiplier < 0) for o in requantizers)
    assert any(isinstance(o, MultiThresholdActivation) and np.any(o.directions == -1)
               for o in outputs)
    model = exported(artifact, tmp_path)
    assert float64_parts(model)  # the requantizers' products exceed 2**24
    assert_executor_matches(model, artifact, random_raw(artifact, rng, 300))


def test_random_binary_cnn_with_bipolar_padding_is_exact(tmp_path):
    rng = np.random.default_rng(8)
    artifact = random_cnn(rng, "binary")
    assert artifact.layers[1].pad_value in (-1, 1)
    assert_executor_matches(exported(artifact, tmp_path), artifact, random_raw(artifact, rng, 200))


@settings(max_examples=20, deadline=None)
@given(artifact=artifacts())
def test_random_threshold_networks_are_exact(artifact):
    # thresholds and biases over their whole legal range, any input rule the artifact allows
    model = qonnx_model(artifact)
    assert_executor_matches(model, artifact, random_raw(artifact, np.random.default_rng(0), 40))


def wide_layer(rng, fan_in: int, fan_out: int, kind: str, **outputs) -> DenseLayer:
    """Return a 16-bit-input, 16-bit-weight dense layer (bound ``fan_in * 2**31``)."""
    return DenseLayer("fc0", uint(16), sint(16), random_weights(rng, sint(16), fan_out, fan_in),
                      outputs[kind])


def test_accumulators_beyond_float32_are_computed_in_float64(tmp_path):
    rng = np.random.default_rng(2)
    fc0 = wide_layer(rng, 40, 6, "scores", scores=ScoreOutput(rng.integers(-9, 10, 6)))
    quantizer = InputQuantizer(uint(16), raw_min=0, raw_max=(1 << 16) - 1, multiplier=1,
                               shift=0)
    artifact = Artifact("wide", quantizer, (fc0,))
    assert fc0.accumulator_bound >= 1 << 24
    model = exported(artifact, tmp_path)
    assert float64_parts(model) == ["fc0"]
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    raw = random_raw(artifact, rng, 200)
    scores = reference.run(artifact, quantizer.quantize(raw)).scores
    assert np.abs(scores).max() >= 1 << 24 and np.any(scores % 2)  # float32 would round these
    assert_executor_matches(model, artifact, raw)


@pytest.mark.parametrize("quantizer, odd", [
    # raw features beyond float32's integers
    (InputQuantizer(uint(8), raw_min=-(1 << 30), raw_max=(1 << 30) + 12345, multiplier=255,
                    shift=31), (1 << 23) + 1),
    # small raw features, but raw * multiplier beyond them
    (InputQuantizer(uint(6), raw_min=0, raw_max=1000, multiplier=(1 << 23) + 3, shift=27), 999),
])
def test_an_input_rule_beyond_float32_makes_the_input_float64(tmp_path, quantizer, odd):
    rng = np.random.default_rng(3)
    fc0 = DenseLayer("fc0", quantizer.encoding, BIPOLAR, rng.choice([-1, 1], size=(3, 5)),
                     ScoreOutput(np.array([0, 1, -1])))
    artifact = Artifact("wide-input", quantizer, (fc0,))
    model = exported(artifact, tmp_path)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert float64_parts(model) == ["input"]
    raw = random_raw(artifact, rng, 100)
    raw[2] = odd
    assert_executor_matches(model, artifact, raw)


# --- schema versions 1 and 2 ---------------------------------------------------------------------

@pytest.mark.parametrize("version, artifact", [
    (1, tiny_artifact()),
    (2, rare_mlp(np.random.default_rng(4))),
])
def test_older_schema_artifacts_export(tmp_path, version, artifact):
    path = artifact.save(tmp_path / "model")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["schema_version"] = version
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_artifact(path)
    model = exported(loaded, tmp_path)
    assert_executor_matches(model, loaded, random_raw(loaded, np.random.default_rng(1), 50))


# --- refusals ------------------------------------------------------------------------------------

def test_a_convolution_beyond_float32_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    conv = random_conv(rng, "big", (3, 3, 1), 2, uint(16), sint(16), "threshold", BIPOLAR,
                       kernel=(3, 3), padding=(0, 0, 0, 0))
    fc = DenseLayer("fc0", BIPOLAR, BIPOLAR, np.ones((2, 2), dtype=np.int64),
                    ScoreOutput(np.zeros(2, dtype=np.int64)))
    artifact = Artifact("big", InputQuantizer(uint(16), 0, 65535, 1, 0), (conv, fc))
    bound = 9 * 65535 * 32768  # 3x3 window of one channel, uint16 inputs, int16 weights
    with pytest.raises(ExportError, match=rf"^layers\[0\] \(big\): the accumulators reach "
                                          rf"{bound}, beyond the integers float32 holds "
                                          rf"exactly \(2\*\*24\), and onnxruntime has no float64 "
                                          rf"Conv$"):
        export_qonnx(artifact, tmp_path / "big.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_requantizer_beyond_float64_is_refused():
    rng = np.random.default_rng(0)
    multiplier = 1 << 25
    requantize = RequantizeOutput(np.full(2, multiplier), np.full(2, 40),
                                  np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64),
                                  uint(8))
    fc0 = wide_layer(rng, 1, 2, "requantize", requantize=requantize)
    fc1 = DenseLayer("fc1", uint(8), sint(2), np.ones((2, 2), dtype=np.int64),
                     ScoreOutput(np.zeros(2, dtype=np.int64)))
    artifact = Artifact("huge", InputQuantizer(uint(16), 0, 65535, 1, 0), (fc0, fc1))
    worst = 65535 * 32768 * multiplier
    with pytest.raises(ExportError, match=rf"^layers\[0\] \(fc0\): bound \* \|multiplier\| \+ "
                                          rf"\|offset\| \+ \|zero_point\| \* 2\*\*shift reach "
                                          rf"{worst}, beyond the integers float64 holds exactly "
                                          rf"\(2\*\*53\); the graph cannot compute them "
                                          rf"exactly$"):
        qonnx_model(artifact)


def test_input_codes_beyond_float32_are_refused():
    fc0 = DenseLayer("fc0", uint(25), BIPOLAR, np.ones((1, 2), dtype=np.int64),
                     ScoreOutput(np.zeros(1, dtype=np.int64)))
    artifact = Artifact("wide-codes", InputQuantizer(uint(25), 0, 10, 1, 0), (fc0,))
    with pytest.raises(ExportError, match=r"^input.encoding: uint25 codes reach 33554431, but "
                                          r"QONNX's Quant emits float32, which holds integers "
                                          r"exactly only below 2\*\*24$"):
        qonnx_model(artifact)


# --- the output file -----------------------------------------------------------------------------

def test_a_failed_export_keeps_the_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "model.onnx"
    export_qonnx(tiny_artifact(), out)
    before = out.read_bytes()
    big = Artifact("codes", InputQuantizer(uint(25), 0, 10, 1, 0), (
        DenseLayer("fc0", uint(25), BIPOLAR, np.ones((1, 2), dtype=np.int64),
                   ScoreOutput(np.zeros(1, dtype=np.int64))),))
    with pytest.raises(ExportError):
        export_qonnx(big, out)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("qnnforge.sw.files.os.replace", fail)
    with pytest.raises(ExportError, match=rf"^{out}: cannot write \(disk full\)$"):
        export_qonnx(rare_mlp(np.random.default_rng(0)), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_output_paths_that_cannot_be_written(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError, match=rf"^{tmp_path / 'folder'}: is a directory$"):
        export_qonnx(tiny_artifact(), tmp_path / "folder")
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub" / "m.onnx"
    with pytest.raises(ExportError, match=rf"^{target}: cannot write \({tmp_path / 'file'} is "
                                          rf"not a directory\)$"):
        export_qonnx(tiny_artifact(), target)
    assert (tmp_path / "file").read_text() == "x"


def test_a_layer_kind_without_an_export_is_refused():
    class AvgPool2dLayer(MaxPool2dLayer):  # a kind added to the artifact after this exporter
        op = "avgpool2d"

    artifact = random_cnn(np.random.default_rng(0))
    pool = artifact.layers[2]
    layers = list(artifact.layers)
    layers[2] = AvgPool2dLayer(pool.name, pool.input_encoding, pool.in_shape, pool.kernel,
                               pool.stride)
    with pytest.raises(ExportError, match=r"^layers\[2\] \(pool0\): the QONNX export has no "
                                          r"'avgpool2d' layers$"):
        qonnx_model(Artifact(artifact.name, artifact.input, tuple(layers)))


# --- import(export(A)) == A ----------------------------------------------------------------------

def saved_form(artifact: Artifact, path) -> tuple[dict, dict[str, np.ndarray]]:
    """Return the manifest and the arrays ``artifact`` is saved as (what "the same" means)."""
    artifact.save(path)
    with np.load(path / "arrays.npz") as arrays:
        return json.loads((path / "manifest.json").read_text()), dict(arrays)


def assert_round_trip(artifact: Artifact, tmp_path) -> Artifact:
    from qnnforge.sw.qonnx.importer import import_qonnx

    path, model = export_qonnx(artifact, tmp_path / "model.onnx")
    back = import_qonnx(path)
    manifest, arrays = saved_form(artifact, tmp_path / "original")
    manifest_back, arrays_back = saved_form(back, tmp_path / "imported")
    assert manifest_back == manifest
    assert arrays_back.keys() == arrays.keys()
    for key, values in arrays.items():
        np.testing.assert_array_equal(arrays_back[key], values, err_msg=key)
        assert arrays_back[key].dtype == values.dtype, key
    return back


TABLE_WEIGHTS = ("ttq-mlp", "codebook3-mlp")
"""Weights whose encoding carries a value table: QONNX has no such quantizer, so they go out as
their integer values in a signed ``Quant`` and come back as ``int`` weights."""


@pytest.mark.parametrize("name", [name for name in TRAINED if name not in TABLE_WEIGHTS])
def test_import_of_an_exported_trained_artifact_is_the_same_artifact(trained, name, tmp_path):
    back = assert_round_trip(trained[name], tmp_path)
    assert back.input.kind == "integer"  # the exact digits rule, not a float re-derivation


@pytest.mark.parametrize("name", TABLE_WEIGHTS)
def test_table_weights_come_back_as_the_same_integers(trained, name, digits_split, tmp_path):
    from qnnforge.sw.qonnx.importer import import_qonnx

    artifact = trained[name]
    back = import_qonnx(export_qonnx(artifact, tmp_path / "model.onnx")[0])
    for layer, imported in zip(artifact.layers, back.layers):
        assert layer.weight_encoding.values and imported.weight_encoding.kind == "int"
        np.testing.assert_array_equal(imported.weights, layer.weights)
    codes = artifact.input.quantize(digits_split.x_test)
    np.testing.assert_array_equal(reference.run(back, codes).scores,
                                  reference.run(artifact, codes).scores)


@pytest.mark.parametrize("build", [rare_cnn, rare_mlp])
def test_import_of_an_exported_rare_artifact_is_the_same_artifact(build, tmp_path):
    # float64 parts (Cast nodes), zero points, offsets, negative multipliers, pad values
    assert_round_trip(build(np.random.default_rng(5)), tmp_path)


# --- imported artifacts (float input rules) go back out ----------------------------------------

@pytest.mark.parametrize("client", ["binary", "ternary", "int4", "cnn", "tfc"])
def test_an_imported_model_exports_exactly(client, brevitas_mlps, brevitas_cnn, tfc, digits_split,
                                           tmp_path):
    from qnnforge.sw.inputs import FloatInputQuantizer
    from qnnforge.sw.qonnx.importer import import_qonnx

    source = {"cnn": brevitas_cnn, "tfc": tfc}.get(client) or brevitas_mlps[client]
    artifact = import_qonnx(source)
    assert isinstance(artifact.input, FloatInputQuantizer)
    rule = artifact.input
    if client == "tfc":  # FINN's MNIST input, bipolar after 2x - 1
        x = np.random.default_rng(0).random((200, *rule.raw_shape), dtype=np.float32)
    else:
        x = digits_split.x_test.astype(np.float32).reshape(-1, *rule.raw_shape)
    path, model = export_qonnx(artifact, tmp_path / "model.onnx")
    expected = reference.run(artifact, rule.quantize(x)).scores
    np.testing.assert_array_equal(execute(model, onnx_inputs(artifact, x)), expected)
    # and back in: the same function (the rule is written as its own float32 steps)
    back = import_qonnx(path)
    np.testing.assert_array_equal(reference.run(back, back.input.quantize(x)).scores, expected)
