"""TTQ and codebook weight encodings: their tables, codes, manifest codec and malformed files."""

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from qnnforge.sw import reference
from qnnforge.sw.artifact import (Artifact, ArtifactError, DenseLayer, MultiThresholdActivation,
                                  ScoreOutput, load_artifact)
from qnnforge.sw.encoding import Encoding, codebook, ttq, uint

from .conftest import DIGITS_QUANTIZER


def test_ttq_values_codes_and_manifest_form():
    encoding = ttq(3, 7)
    assert (encoding.min, encoding.max, encoding.max_abs, encoding.bits) == (-3, 7, 7, 2)
    assert encoding.signed and str(encoding) == "ttq[-3, 0, +7]"
    assert encoding.to_json() == {"kind": "ttq", "bits": 2, "values": [-3, 0, 7]}
    assert encoding.contains([7, 0, -3, 7]) and not encoding.contains([1])
    assert not encoding.contains([-7])
    np.testing.assert_array_equal(encoding.to_code([7, -3, 0]), [1, 3, 0])
    # the sign bit selects -Wn, so the unused code 10 reads as -Wn, as in the hardware
    np.testing.assert_array_equal(encoding.from_code([1, 3, 0, 2]), [7, -3, 0, -3])


def test_codebook_values_codes_and_manifest_form():
    encoding = codebook(2, [-90, -1, 5])
    assert (encoding.min, encoding.max, encoding.max_abs) == (-90, 5, 90)
    assert not encoding.signed and str(encoding) == "codebook2[-90, -1, 5]"
    assert encoding.to_json() == {"kind": "codebook", "bits": 2, "values": [-90, -1, 5]}
    assert encoding.contains([5, -90]) and not encoding.contains([0])
    np.testing.assert_array_equal(encoding.to_code([5, -90, -1]), [2, 0, 1])
    # index 3 is past the table: it reads as the last value, as the hardware's table does
    np.testing.assert_array_equal(encoding.from_code([0, 1, 2, 3]), [-90, -1, 5, 5])
    assert codebook(2, [1, 2]) != codebook(2, [1, 3]) != codebook(3, [1, 3])


@st.composite
def tables(draw):
    if draw(st.booleans()):
        return ttq(draw(st.integers(1, 32767)), draw(st.integers(1, 32767)))
    bits = draw(st.integers(1, 8))
    values = draw(st.sets(st.integers(-32767, 32767), min_size=1, max_size=min(1 << bits, 40)))
    return codebook(bits, sorted(values))


@given(tables(), st.data())
def test_table_values_survive_a_code_round_trip(encoding, data):
    values = np.array(data.draw(st.lists(st.sampled_from(encoding.values), min_size=1,
                                         max_size=20)))
    codes = encoding.to_code(values)
    assert np.all((codes >= 0) & (codes < (1 << encoding.bits)))
    np.testing.assert_array_equal(encoding.from_code(codes), values)


@pytest.mark.parametrize("kind, bits, values, error, message", [
    ("ttq", 3, (-1, 0, 1), ValueError, r"^Encoding 'ttq' needs bits in 2\.\.2, not 3$"),
    ("ttq", 2, (-1, 1), ValueError,
     r"^Encoding 'ttq' needs values \[-Wn, 0, Wp\] with Wn and Wp in 1\.\.32767, not \[-1, 1\]$"),
    ("ttq", 2, (-1, 1, 2), ValueError,
     r"^Encoding 'ttq' needs values \[-Wn, 0, Wp\] with Wn and Wp in 1\.\.32767, not "
     r"\[-1, 1, 2\]$"),
    ("ttq", 2, (0, 0, 4), ValueError,
     r"^Encoding 'ttq' needs values \[-Wn, 0, Wp\] with Wn and Wp in 1\.\.32767, not "
     r"\[0, 0, 4\]$"),
    ("ttq", 2, (-1, 0, 32768), ValueError,
     r"^Encoding 'ttq' needs values \[-Wn, 0, Wp\] with Wn and Wp in 1\.\.32767, not "
     r"\[-1, 0, 32768\]$"),
    ("codebook", 0, (1,), ValueError, r"^Encoding 'codebook' needs bits in 1\.\.8, not 0$"),
    ("codebook", 9, (1,), ValueError, r"^Encoding 'codebook' needs bits in 1\.\.8, not 9$"),
    ("codebook", 1, (), ValueError,
     r"^Encoding 'codebook' of 1 bits needs 1\.\.2 values, not 0$"),
    ("codebook", 1, (1, 2, 3), ValueError,
     r"^Encoding 'codebook' of 1 bits needs 1\.\.2 values, not 3$"),
    ("codebook", 2, (1, 1), ValueError,
     r"^Encoding 'codebook' values must be strictly increasing, not \[1, 1\]$"),
    ("codebook", 2, (3, -1), ValueError,
     r"^Encoding 'codebook' values must be strictly increasing, not \[3, -1\]$"),
    ("codebook", 2, (-32768, 0), ValueError,
     r"^Encoding 'codebook' values must lie in -32767\.\.32767, not \[-32768, 0\]$"),
    ("codebook", 2, [1, 2], TypeError,
     r"^Encoding values must be a tuple of integers, not \[1, 2\]$"),
    ("codebook", 2, (1, 2.0), TypeError,
     r"^Encoding values must be a tuple of integers, not \(1, 2\.0\)$"),
    ("codebook", 2, (True,), TypeError,
     r"^Encoding values must be a tuple of integers, not \(True,\)$"),
    ("uint", 4, (1,), ValueError, r"^Encoding 'uint' has no values, not \[1\]$"),
])
def test_rejects_impossible_tables(kind, bits, values, error, message):
    with pytest.raises(error, match=message):
        Encoding(kind, bits, values)


def _table_artifact() -> Artifact:
    fc0 = DenseLayer("fc0", uint(4), ttq(5, 9),
                     np.array([[9, -5, 0, 9], [0, 0, -5, 9], [-5, -5, 9, 0]]),
                     MultiThresholdActivation(np.array([[-3, 10, 40], [0, 0, 1], [-540, 5, 541]]),
                                              np.array([1, -1, 1]), uint(2)))
    fc1 = DenseLayer("fc1", uint(2), codebook(2, [-100, 3, 127]),
                     np.array([[127, -100, 3], [3, 3, -100]]), ScoreOutput(np.array([4, -4])))
    return Artifact("tables", DIGITS_QUANTIZER, (fc0, fc1))


@pytest.fixture
def table_dir(tmp_path):
    path = tmp_path / "model"
    _table_artifact().save(path)
    return path


def _edit(path, edit):
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_tables_round_trip_and_weights_stay_values(table_dir):
    manifest = json.loads((table_dir / "manifest.json").read_text())
    assert manifest["schema_version"] == 4
    assert manifest["layers"][0]["weight_encoding"] == {"kind": "ttq", "bits": 2,
                                                        "values": [-5, 0, 9]}
    assert manifest["layers"][1]["weight_encoding"] == {"kind": "codebook", "bits": 2,
                                                        "values": [-100, 3, 127]}
    assert manifest["layers"][0]["accumulator_bound"] == 4 * 9 * 15
    assert manifest["layers"][1]["accumulator_bound"] == 3 * 127 * 3
    with np.load(table_dir / "arrays.npz") as npz:
        # the mathematical values, as every other encoding stores them (not the codes)
        np.testing.assert_array_equal(npz["fc1.weights"], [[127, -100, 3], [3, 3, -100]])
        assert npz["fc1.weights"].dtype == np.int8
    loaded = load_artifact(table_dir)
    expected = _table_artifact()
    assert [layer.weight_encoding for layer in loaded.layers] == [ttq(5, 9),
                                                                   codebook(2, [-100, 3, 127])]
    x = np.array([[0, 15, 7, 3], [15, 15, 15, 15], [1, 2, 3, 4]])
    for got, want in zip(reference.run(loaded, x).outputs, reference.run(expected, x).outputs):
        np.testing.assert_array_equal(got, want)
    # the reference multiplies values: row 0 of fc0 on [1, 2, 3, 4] is 9 - 10 + 0 + 36 = 35
    assert reference.dense(x[2:], loaded.layers[0].weights).tolist() == [[35, 21, 12]]


def _put(path, keys, value):
    def edit(manifest):
        target = manifest
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def _drop_values(manifest):
    del manifest["layers"][1]["weight_encoding"]["values"]


MALFORMED = [
    (_drop_values, r"^layers\[1\]\.weight_encoding\.values: missing field$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], "[-100, 3, 127]"),
     r"^layers\[1\]\.weight_encoding\.values: must be of type list, not str$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], [-100, 3.0, 127]),
     r"^layers\[1\]\.weight_encoding\.values\[1\]: must be an integer, not 3\.0$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], [-100, True, 127]),
     r"^layers\[1\]\.weight_encoding\.values\[1\]: must be an integer, not True$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], [127, 3, -100]),
     r"^layers\[1\]\.weight_encoding: Encoding 'codebook' values must be strictly increasing, "
     r"not \[127, 3, -100\]$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], [-100, 3, 50, 127, 128]),
     r"^layers\[1\]\.weight_encoding: Encoding 'codebook' of 2 bits needs 1\.\.4 values, "
     r"not 5$"),
    (_put(None, ["layers", 1, "weight_encoding", "values"], [-40000, 3, 127]),
     r"^layers\[1\]\.weight_encoding: Encoding 'codebook' values must lie in "
     r"-32767\.\.32767, not \[-40000, 3, 127\]$"),
    # a weight the table does not hold (the arrays store values, not indices)
    (_put(None, ["layers", 1, "weight_encoding", "values"], [-100, 4, 127]),
     r"^layers\[1\]\.weights: values must be legal codebook2\[-100, 4, 127\] values$"),
    (_put(None, ["layers", 0, "weight_encoding", "values"], [-5, 1, 9]),
     r"^layers\[0\]\.weight_encoding: Encoding 'ttq' needs values \[-Wn, 0, Wp\] with Wn and "
     r"Wp in 1\.\.32767, not \[-5, 1, 9\]$"),
    (_put(None, ["layers", 0, "weight_encoding", "values"], [-5, 0, 8]),
     r"^layers\[0\]\.weights: values must be legal ttq\[-5, 0, \+8\] values$"),
    (_put(None, ["layers", 0, "weight_encoding", "bits"], 3),
     r"^layers\[0\]\.weight_encoding: Encoding 'ttq' needs bits in 2\.\.2, not 3$"),
    (_put(None, ["layers", 0, "input_encoding", "values"], [1, 2]),
     r"^layers\[0\]\.input_encoding\.values: an encoding of kind 'uint' has no values$"),
    (_put(None, ["layers", 0, "accumulator_bound"], 4 * 15 * 15),
     r"^layers\[0\]\.accumulator_bound: must be 540 \(the worst-case \|accumulator\| of the "
     r"layer's encodings and fan-in\), not 900$"),
    (_put(None, ["schema_version"], 3),
     r"^layers\[0\]\.weight_encoding: schema version 3 has no 'ttq' weights$"),
]


@pytest.mark.parametrize("edit, message", MALFORMED)
def test_load_rejects_malformed_tables(table_dir, edit, message):
    _edit(table_dir, edit)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(table_dir)


def test_schema_version_3_has_no_codebook_weights(table_dir):
    def edit(manifest):
        manifest["schema_version"] = 3
        manifest["layers"][0]["weight_encoding"] = {"kind": "int", "bits": 5}
        manifest["layers"][0]["accumulator_bound"] = 4 * 16 * 15
    _edit(table_dir, edit)
    with pytest.raises(ArtifactError, match=r"^layers\[1\]\.weight_encoding: schema version 3 has "
                                            r"no 'codebook' weights$"):
        load_artifact(table_dir)
