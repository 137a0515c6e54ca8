"""Integer requantization parameters from a float scale (gemmlowp/TFLite style), torch-free.

A layer whose activation is ``y = round(acc * ratio + bias)`` becomes the integer rule
``y = (acc * M + offset) >> s`` with ``M = round(ratio * 2**s)`` a signed integer of
:data:`MULTIPLIER_BITS` bits whose magnitude lies in ``[2**(bits-2), 2**(bits-1))`` (all its
bits carry precision), ``offset = round(bias * 2**s) + 2**(s-1)`` (the bias plus the rounding
constant, so the flooring shift rounds half up). The relative error of the scale is at most
``2**-(bits-1)``; the trained model evaluates the very same integer rule, so the artifact and the
model agree exactly whatever the approximation.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MULTIPLIER_BITS", "MAX_SHIFT", "BIAS_LIMIT", "requantize_parameters"]

MULTIPLIER_BITS = 16
"""Width of the signed requantization multiplier (a 16 x acc product fits one DSP)."""
MAX_SHIFT = 40
"""Largest shift; a smaller ratio's multiplier loses bits (the output is then nearly constant)."""
BIAS_LIMIT = 1 << 20
"""Biases are clipped to this magnitude (far beyond any 16-bit output) to bound ``offset``."""


def requantize_parameters(ratio: np.ndarray, bias: np.ndarray,
                          bits: int = MULTIPLIER_BITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return integer ``(multiplier, shift, offset)`` per channel for ``round(acc * ratio + bias)``.

    Parameters
    ----------
    ratio, bias : numpy.ndarray
        Float64 scale and bias per channel, in output units.
    bits : int
        Width of the signed multiplier, 2..32.

    Raises
    ------
    ValueError
        If ``bits`` is out of range or a ratio or bias is not finite.
    """
    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise ValueError(f"multiplier bits must be an integer in 2..32, not {bits!r}")
    ratio = np.asarray(ratio, dtype=np.float64)
    bias = np.clip(np.asarray(bias, dtype=np.float64), -BIAS_LIMIT, BIAS_LIMIT)
    if not (np.all(np.isfinite(ratio)) and np.all(np.isfinite(bias))):
        raise ValueError("requantization ratio and bias must be finite")
    limit = 1 << (bits - 1)
    multiplier = np.zeros(ratio.shape, dtype=np.int64)
    shift = np.zeros(ratio.shape, dtype=np.int64)
    offset = np.zeros(ratio.shape, dtype=np.int64)
    for c, (r, b) in enumerate(zip(ratio.tolist(), bias.tolist())):
        s = 0
        if r != 0:
            _, exponent = math.frexp(abs(r))  # |r| = m * 2**exponent, m in [0.5, 1)
            s = int(np.clip(bits - 1 - exponent, 0, MAX_SHIFT))
            m = round(r * 2.0 ** s)
            while abs(m) >= limit and s > 0:  # rounding up reached 2**(bits-1)
                s -= 1
                m = round(r * 2.0 ** s)
            multiplier[c] = max(-limit + 1, min(limit - 1, m))
        shift[c] = s
        offset[c] = round(b * 2.0 ** s) + ((1 << (s - 1)) if s else 0)
    return multiplier, shift, offset
