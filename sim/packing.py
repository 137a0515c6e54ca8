"""Pack vectors of element codes into stream beats and back (lane 0 in the low bits)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pack_rows", "unpack_beats"]


def pack_rows(codes: np.ndarray, lanes: int, bits: int) -> list[int]:
    """Return the beats carrying each row of unsigned ``codes``, ``lanes`` elements per beat.

    Raises
    ------
    ValueError
        If ``lanes`` does not divide the row length or a code does not fit ``bits``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape[1] % lanes:
        raise ValueError(f"lanes must divide the row length {codes.shape[1]}, not {lanes}")
    if codes.size and (codes.min() < 0 or codes.max() >= 1 << bits):
        raise ValueError(f"codes must be unsigned {bits}-bit values")
    beats = []
    for row in codes:
        for start in range(0, len(row), lanes):
            word = 0
            for lane, code in enumerate(row[start:start + lanes]):
                word |= int(code) << (lane * bits)
            beats.append(word)
    return beats


def unpack_beats(beats: Sequence[int], lanes: int, bits: int, signed: bool,
                 row_length: int) -> np.ndarray:
    """Return the ``(n, row_length)`` element values carried by ``beats``.

    Incomplete trailing rows are dropped; ``signed`` elements are read as two's complement.
    """
    mask = (1 << bits) - 1
    values = []
    for word in beats:
        for lane in range(lanes):
            value = (word >> (lane * bits)) & mask
            if signed and value >> (bits - 1):
                value -= 1 << bits
            values.append(value)
    rows = len(values) // row_length
    return np.array(values[:rows * row_length], dtype=np.int64).reshape(rows, row_length)
