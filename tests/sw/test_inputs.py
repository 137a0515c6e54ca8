"""Input rules: the float rule against QONNX's own quantizer, its manifest codec and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qnnforge.sw.artifact import Artifact, ArtifactError, load_artifact
from qnnforge.sw.encoding import BIPOLAR, uint
from qnnforge.sw.inputs import (FloatInputQuantizer, FloatQuantizer, InputQuantizer, Rounding,
                                Step, StepOp)
from qnnforge.sw.layers import Conv2dLayer, DenseLayer
from qnnforge.sw.outputs import ScoreOutput, ThresholdActivation


@given(st.lists(st.floats(-300, 300, width=32), min_size=1, max_size=40),
       st.sampled_from([0.5, 0.1, 1 / 3, 2.0, 0.0078125]), st.sampled_from([0.0, 3.0, -1.5]),
       st.integers(1, 8), st.booleans(), st.booleans(), st.sampled_from(list(Rounding)))
def test_codes_are_qonnx_quant_codes(values, scale, zero, bits, signed, narrow, rounding):
    from qonnx.custom_op.general.intquant import int_quant

    narrow = narrow and bits > 1
    x = np.array(values, dtype=np.float32)
    quantizer = FloatQuantizer(float(np.float32(scale)), zero, bits, signed, narrow, rounding)
    expected = int_quant(x, np.float32(scale), np.float32(zero), np.float32(bits), signed,
                         narrow, rounding.value)
    # QONNX's output is (code - zero) * scale: undo it in float64, where it is exact enough
    codes = np.rint(expected.astype(np.float64) / np.float32(scale) + zero).astype(np.int64)
    assert np.array_equal(quantizer.codes(x), codes)


def _rule(channels_last: bool = False) -> FloatInputQuantizer:
    return FloatInputQuantizer(
        encoding=uint(1), raw_shape=(2, 1, 2) if channels_last else (4,),
        channels_last=channels_last, steps=(Step(StepOp.MUL, 0.125), Step(StepOp.SUB, 1.0)),
        quantizer=FloatQuantizer(1.0, 0.0, 1, True, False, Rounding.ROUND))


def test_float_rule_runs_the_graph_arithmetic_then_maps_bipolar_codes_to_unsigned():
    # x / 8 - 1 >= 0 from 8 on: code +1 is u = 1
    assert _rule().quantize(np.array([[0, 7.99, 8, 16]])).tolist() == [[0, 0, 1, 1]]
    assert _rule().quantize(np.array([[0, 7.99, 8, 16]], dtype=np.float32)).dtype == np.int64


def test_an_image_rule_names_both_shapes_it_takes():
    with pytest.raises(ValueError, match=r"^inputs must have shape \(n, 2, 1, 2\) or \(n, 4\), "
                                         r"not \(1, 3\)$"):
        _rule(channels_last=True).quantize(np.zeros((1, 3)))


def test_float_rule_reorders_nchw_channels_last():
    # raw (C=2, H=1, W=2): channel 0 = [8, 0], channel 1 = [0, 8] -> (h, w, c) order
    x = np.array([[[[8.0, 0.0]], [[0.0, 8.0]]]])
    assert _rule(channels_last=True).quantize(x).tolist() == [[1, 0, 0, 1]]
    assert _rule(channels_last=True).quantize(x.reshape(1, 4)).tolist() == [[1, 0, 0, 1]]


def test_signed_codes_shift_to_unsigned():
    rule = FloatInputQuantizer(uint(4), (3,), False, (),
                               FloatQuantizer(0.5, 0.0, 4, True, True, Rounding.ROUND))
    # codes -7..7 (narrow): u = code + 7
    assert rule.quantize(np.array([[-100.0, 0.0, 100.0]])).tolist() == [[0, 7, 14]]


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((2, 5)), ValueError, r"^inputs must have shape \(n, 4\), not \(2, 5\)$"),
    (np.array([[np.nan, 0, 0, 0]]), ValueError, r"^inputs must be finite \(no NaN or infinity\)$"),
    (np.array([["a"] * 4]), TypeError, r"^inputs must be a numeric array, not <U1$"),
])
def test_float_rule_rejects_bad_inputs(x, error, message):
    with pytest.raises(error, match=message):
        _rule().quantize(x)


def _artifact(rule) -> Artifact:
    layer = DenseLayer("fc0", rule.encoding, BIPOLAR, np.array([[1, -1, 1, 1], [1, 1, -1, 1]]),
                       ScoreOutput(bias=np.array([0, 1])))
    return Artifact("float-input", rule, (layer,))


def test_float_rule_round_trips_through_the_manifest(tmp_path):
    artifact = _artifact(_rule())
    artifact.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["schema_version"] == 4
    assert manifest["input"] == {
        "shape": [4], "kind": "float", "encoding": {"kind": "uint", "bits": 1},
        "raw_shape": [4], "channels_last": False,
        "steps": [{"op": "mul", "value": 0.125}, {"op": "sub", "value": 1.0}],
        "quantizer": {"scale": 1.0, "zero_point": 0.0, "bits": 1, "signed": True,
                      "narrow": False, "rounding_mode": "ROUND"}}
    assert load_artifact(tmp_path / "model").input == artifact.input


def test_channels_last_rule_of_an_image_network_round_trips(tmp_path):
    conv = Conv2dLayer("conv0", uint(1), BIPOLAR, (1, 2, 2), np.ones((2, 1, 1, 2), np.int64),
                       (1, 1), (0, 0, 0, 0), 0,
                       ThresholdActivation(np.array([0, 1]), np.array([1, 1])))
    dense = DenseLayer("fc0", BIPOLAR, BIPOLAR, np.ones((2, 4), np.int64),
                       ScoreOutput(bias=np.array([0, 0])))
    artifact = Artifact("image", _rule(channels_last=True), (conv, dense))
    artifact.save(tmp_path / "model")
    assert load_artifact(tmp_path / "model").input == artifact.input


def _edited(tmp_path, edit) -> None:
    _artifact(_rule()).save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    load_artifact(tmp_path / "model")


def _set(keys, value):
    def edit(manifest):
        target = manifest
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(["input", "kind"], "fixed"), r"^input\.kind: must be 'integer' or 'float', not 'fixed'$"),
    (_set(["input", "raw_shape"], [5]),
     r"^input\.raw_shape: must hold 4 elements \(the first layer's input\), not \[5\]$"),
    (_set(["input", "raw_shape"], [0, 4]),
     r"^input\.raw_shape\[0\]: must be a positive integer, not 0$"),
    (_set(["input", "channels_last"], True),
     r"^input\.channels_last: needs a \(C, H, W\) raw_shape, not \[4\]$"),
    (_set(["input", "steps", 0, "op"], "pow"),
     r"^input\.steps\[0\]\.op: must be one of mul, add, sub, div, not 'pow'$"),
    (_set(["input", "steps", 0, "value"], 0.1),
     r"^input\.steps\[0\]\.value: must be a finite float32 value, not 0\.1$"),
    (_set(["input", "steps", 0, "value"], 1e39),
     r"^input\.steps\[0\]\.value: must be a finite float32 value, not 1e\+39$"),
    (_set(["input", "quantizer", "scale"], -1.0),
     r"^input\.quantizer\.scale: must be positive, not -1\.0$"),
    (_set(["input", "quantizer", "bits"], 17),
     r"^input\.quantizer\.bits: must lie in 1\.\.16, not 17$"),
    (_set(["input", "quantizer", "narrow"], True),
     r"^input\.quantizer\.narrow: must be false for a 1-bit quantizer$"),
    (_set(["input", "quantizer", "rounding_mode"], "NEAREST"),
     r"^input\.quantizer\.rounding_mode: must be one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, "
     r"DOWN, HALF_UP, HALF_DOWN, not 'NEAREST'$"),
    (_set(["input", "encoding"], {"kind": "uint", "bits": 2}),
     r"^input\.encoding: must be uint1 \(the quantizer's\), not uint2$"),
    (_set(["schema_version"], 3), r"^input\.raw_min: missing field$"),
])
def test_malformed_float_rules_are_rejected(tmp_path, edit, message):
    with pytest.raises(ArtifactError, match=message):
        _edited(tmp_path, edit)


def test_integer_rule_in_version_4_names_its_kind():
    rule = InputQuantizer(uint(4), 0, 16, 15, 4)
    assert rule.to_json()["kind"] == "integer" and rule.raw_shape is None
