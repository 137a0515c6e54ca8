"""Encodings: legal value ranges, bit codes, and the messages for impossible encodings."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from qnnforge.sw.encoding import BIPOLAR, Encoding, sint, uint

# kind, bits, min, max, max_abs, signed, str
RANGES = [
    ("bipolar", 1, -1, 1, 1, False, "bipolar"),
    ("uint", 1, 0, 1, 1, False, "uint1"),
    ("uint", 4, 0, 15, 15, False, "uint4"),
    ("uint", 8, 0, 255, 255, False, "uint8"),
    ("uint", 32, 0, 4294967295, 4294967295, False, "uint32"),
    ("int", 2, -2, 1, 2, True, "int2"),
    ("int", 4, -8, 7, 8, True, "int4"),
    ("int", 8, -128, 127, 128, True, "int8"),
    ("int", 32, -2147483648, 2147483647, 2147483648, True, "int32"),
]


@pytest.mark.parametrize("kind, bits, low, high, max_abs, signed, text", RANGES)
def test_legal_range(kind, bits, low, high, max_abs, signed, text):
    encoding = Encoding(kind, bits)
    assert (encoding.min, encoding.max, encoding.max_abs) == (low, high, max_abs)
    assert encoding.signed is signed
    assert str(encoding) == text
    assert encoding.to_json() == {"kind": kind, "bits": bits}
    assert encoding.contains(np.array([low, high]))
    assert not encoding.contains(np.array([low - 1]))
    assert not encoding.contains(np.array([high + 1]))


def test_bipolar_excludes_zero():
    assert BIPOLAR.contains([-1, 1, 1, -1])
    assert not BIPOLAR.contains([-1, 0, 1])


def test_constructors_build_the_named_encodings():
    assert BIPOLAR == Encoding("bipolar", 1)
    assert uint(4) == Encoding("uint", 4)
    assert sint(8) == Encoding("int", 8)
    assert uint(4) != sint(4)


encodings = st.one_of(
    st.just(BIPOLAR), st.integers(1, 32).map(uint), st.integers(2, 32).map(sint))


@st.composite
def encoded_values(draw):
    encoding = draw(encodings)
    values = st.sampled_from([-1, 1]) if encoding == BIPOLAR else st.integers(
        encoding.min, encoding.max)
    return encoding, np.array(draw(st.lists(values, min_size=1, max_size=20)), dtype=np.int64)


@given(encoded_values())
def test_values_survive_a_code_round_trip(case):
    encoding, values = case
    codes = encoding.to_code(values)
    assert np.all((codes >= 0) & (codes < (1 << encoding.bits)))
    np.testing.assert_array_equal(encoding.from_code(codes), values)


@given(encodings.filter(lambda e: e.bits <= 10))
def test_every_code_is_one_legal_value(encoding):
    codes = np.arange(1 << encoding.bits)
    values = encoding.from_code(codes)
    assert encoding.contains(values)
    assert len(set(values.tolist())) == len(codes)
    np.testing.assert_array_equal(encoding.to_code(values), codes)


@given(encodings, st.integers(-(2**40), 2**40))
def test_contains_matches_the_range(encoding, value):
    legal = value in (-1, 1) if encoding == BIPOLAR else encoding.min <= value <= encoding.max
    assert encoding.contains(np.array([value])) is legal


@pytest.mark.parametrize("encoding, values, codes", [
    (BIPOLAR, [-1, 1], [0, 1]),
    (sint(4), [-8, -1, 0, 7], [8, 15, 0, 7]),
    (sint(2), [-2, -1, 0, 1], [2, 3, 0, 1]),
    (uint(3), [0, 5, 7], [0, 5, 7]),
    (sint(32), [-(2**31), -1], [2**31, 2**32 - 1]),
])
def test_known_codes(encoding, values, codes):
    np.testing.assert_array_equal(encoding.to_code(np.array(values)), codes)
    np.testing.assert_array_equal(encoding.from_code(np.array(codes)), values)


@pytest.mark.parametrize("kind, bits, message", [
    ("float", 8, r"^Encoding kind must be one of bipolar, ternary, uint, int, ttq, codebook, "
                 r"not 'float'$"),
    ("UINT", 4, r"^Encoding kind must be one of bipolar, ternary, uint, int, ttq, codebook, "
                r"not 'UINT'$"),
    ("bipolar", 2, r"^Encoding 'bipolar' needs bits in 1\.\.1, not 2$"),
    ("uint", 0, r"^Encoding 'uint' needs bits in 1\.\.32, not 0$"),
    ("uint", 33, r"^Encoding 'uint' needs bits in 1\.\.32, not 33$"),
    ("int", 1, r"^Encoding 'int' needs bits in 2\.\.63, not 1$"),
    ("int", 64, r"^Encoding 'int' needs bits in 2\.\.63, not 64$"),
])
def test_rejects_impossible_encodings(kind, bits, message):
    with pytest.raises(ValueError, match=message):
        Encoding(kind, bits)


@pytest.mark.parametrize("bits, message", [
    ("4", r"^Encoding bits must be an integer, not '4'$"),
    (4.0, r"^Encoding bits must be an integer, not 4\.0$"),
    (True, r"^Encoding bits must be an integer, not True$"),
])
def test_rejects_non_integer_bits(bits, message):
    with pytest.raises(TypeError, match=message):
        Encoding("uint", bits)


def test_63_bit_integers_round_trip():
    wide = sint(63)
    values = np.array([-(2**62), -1, 0, 1, 2**62 - 1], dtype=np.int64)
    codes = wide.to_code(values)
    assert codes.min() >= 0
    np.testing.assert_array_equal(wide.from_code(codes), values)
