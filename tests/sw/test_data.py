"""The digits split: fixed, stratified, 360 test images of integer pixels."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from qnnforge.sw.data import DIGITS_RAW_MAX, load_digits_split


def test_split_sizes_and_values(digits_split):
    split = digits_split
    assert split.x_train.shape == (1437, 64) and split.x_test.shape == (360, 64)
    assert split.y_train.shape == (1437,) and split.y_test.shape == (360,)
    for array in (split.x_train, split.x_test, split.y_train, split.y_test):
        assert array.dtype == np.int64
    assert split.x_train.min() == 0 and max(split.x_train.max(), split.x_test.max()) == 16
    assert DIGITS_RAW_MAX == 16
    assert set(split.y_test.tolist()) == set(range(10))


def test_split_partitions_the_data_set(digits_split):
    digits = load_digits()
    every = np.column_stack([digits.data.astype(np.int64), digits.target])
    parts = np.vstack([np.column_stack([digits_split.x_train, digits_split.y_train]),
                       np.column_stack([digits_split.x_test, digits_split.y_test])])
    np.testing.assert_array_equal(np.unique(parts, axis=0, return_counts=True)[1],
                                  np.unique(every, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(parts, axis=0), np.unique(every, axis=0))


def test_split_is_stratified(digits_split):
    totals = np.bincount(load_digits().target, minlength=10)
    tests = np.bincount(digits_split.y_test, minlength=10)
    # Each class keeps its share of the 20 %: within one image of 0.2 * its count.
    assert np.all(np.abs(tests - 0.2 * totals) < 1), (tests, 0.2 * totals)
    assert np.all((tests >= 34) & (tests <= 37))


def test_split_is_deterministic(digits_split):
    again = load_digits_split()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(digits_split, name))
    other = load_digits_split(seed=1)
    assert not np.array_equal(other.x_test, digits_split.x_test)


def test_split_honours_the_fraction():
    split = load_digits_split(test_fraction=0.5)
    assert len(split.y_test) == 899 and len(split.y_train) == 898


@pytest.mark.parametrize("fraction, text", [
    (0, "0"), (1, "1"), (0.0, r"0\.0"), (1.5, r"1\.5"), (-0.2, r"-0\.2"), (float("nan"), "nan"),
])
def test_split_rejects_a_bad_fraction(fraction, text):
    with pytest.raises(ValueError,
                       match=rf"^test_fraction must lie strictly between 0 and 1, not {text}$"):
        load_digits_split(test_fraction=fraction)
