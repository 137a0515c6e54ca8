"""Real data for the flow: scikit-learn's bundled 8x8 handwritten digits (no download).

The split is fixed and documented: a stratified 80/20 train/test split of the 1,797 images with
``random_state=0``, which holds out exactly 360 test images (36 of each digit, give or take one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DigitsSplit", "load_digits_split", "DIGITS_RAW_MAX", "SPLIT_SEED", "TEST_FRACTION"]

DIGITS_RAW_MAX = 16
"""Largest pixel value in ``load_digits`` (pixels are integers 0..16)."""
SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DigitsSplit:
    """Raw integer pixels (n, 64) in 0..16 and integer labels, for training and testing."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> DigitsSplit:
    """Return the fixed stratified split of ``sklearn.datasets.load_digits``.

    Raises
    ------
    ValueError
        If ``test_fraction`` is not strictly between 0 and 1.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, not {test_fraction}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data.astype(np.int64)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed)
    return DigitsSplit(x_train, y_train, x_test, y_test)
