"""Integer encodings of tensors: what a stored integer means and which values are legal.

Every tensor that crosses the software/hardware boundary (inputs, weights, activations) carries
one of these encodings in the model artifact. Values are always stored as their *mathematical*
integer value (a bipolar ``-1`` is stored as ``-1``, not as bit ``0``); how a value is packed into
bits is a property of the encoding, used by the hardware generator and the drivers.

Two weight encodings carry a table of the values they allow: ``"ttq"`` (trained ternary
quantization: ``{-Wn, 0, +Wp}``, coded like ternary) and ``"codebook"`` (up to ``2**bits`` shared
values, a weight's code being its index in the sorted table). The table is part of the encoding,
so every weight is still stored as its integer value and the reference needs no table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Encoding", "KINDS", "TABLE_KINDS", "BIPOLAR", "TERNARY", "MAX_TABLE_VALUE", "uint",
           "sint", "ttq", "codebook", "signed_bits"]

KINDS = ("bipolar", "ternary", "uint", "int", "ttq", "codebook")
"""Every encoding kind, as the manifest spells it."""
TABLE_KINDS = ("ttq", "codebook")
"""The kinds whose legal values are a table (``Encoding.values``)."""
MAX_TABLE_VALUE = (1 << 15) - 1
"""Largest magnitude of a table value (a table entry is at most a 16-bit weight)."""


@dataclass(frozen=True)
class Encoding:
    """The value set of an integer tensor and its bit-level representation.

    Parameters
    ----------
    kind : str
        ``"bipolar"``: values in {-1, +1}, one bit each, bit 1 meaning +1.
        ``"ternary"``: values in {-1, 0, +1}, two bits each in two's complement (``11`` = -1).
        ``"uint"``: unsigned integers ``0 .. 2**bits - 1``.
        ``"int"``: two's complement integers ``-2**(bits-1) .. 2**(bits-1) - 1``.
        ``"ttq"``: values in ``{-Wn, 0, +Wp}`` (``values``), coded like ternary: ``01`` is
        ``+Wp``, ``11`` is ``-Wn``, ``00`` is 0.
        ``"codebook"``: values in the sorted table ``values`` of at most ``2**bits`` entries; the
        code of a value is its index in the table.
    bits : int
        Width of one element in hardware; must be 1 for ``"bipolar"``, 2 for ``"ternary"`` and
        ``"ttq"``, 1..32 for ``"uint"``, 2..63 for ``"int"`` (class scores can be wider than
        32 bits; the artifact limits weights and activations further) and 1..8 for
        ``"codebook"``.
    values : tuple of int
        The table of a ``"ttq"`` encoding (``(-Wn, 0, Wp)`` with ``Wn, Wp`` in
        1..:data:`MAX_TABLE_VALUE`) or a ``"codebook"`` one (strictly increasing integers of
        magnitude at most :data:`MAX_TABLE_VALUE`, 1..``2**bits`` of them); empty otherwise.

    Raises
    ------
    TypeError
        If ``bits`` is not an integer or ``values`` not a tuple of integers.
    ValueError
        If ``kind`` is unknown, ``bits`` is out of range for it or ``values`` is not a legal
        table for it.
    """

    kind: str
    bits: int
    values: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"Encoding kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not isinstance(self.bits, int) or isinstance(self.bits, bool):
            raise TypeError(f"Encoding bits must be an integer, not {self.bits!r}")
        low, high = {"bipolar": (1, 1), "ternary": (2, 2), "uint": (1, 32), "int": (2, 63),
                     "ttq": (2, 2), "codebook": (1, 8)}[self.kind]
        if not low <= self.bits <= high:
            raise ValueError(
                f"Encoding {self.kind!r} needs bits in {low}..{high}, not {self.bits}")
        self._check_values()

    def _check_values(self) -> None:
        values = self.values
        if not isinstance(values, tuple) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise TypeError(f"Encoding values must be a tuple of integers, not {values!r}")
        if self.kind not in TABLE_KINDS:
            if values:
                raise ValueError(f"Encoding {self.kind!r} has no values, not {list(values)}")
            return
        if self.kind == "ttq":
            if (len(values) != 3 or values[1] != 0
                    or not -MAX_TABLE_VALUE <= values[0] <= -1
                    or not 1 <= values[2] <= MAX_TABLE_VALUE):
                raise ValueError(f"Encoding 'ttq' needs values [-Wn, 0, Wp] with Wn and Wp in "
                                 f"1..{MAX_TABLE_VALUE}, not {list(values)}")
            return
        if not 1 <= len(values) <= 1 << self.bits:
            raise ValueError(f"Encoding 'codebook' of {self.bits} bits needs 1..{1 << self.bits} "
                             f"values, not {len(values)}")
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"Encoding 'codebook' values must be strictly increasing, not "
                             f"{list(values)}")
        if not (-MAX_TABLE_VALUE <= values[0] and values[-1] <= MAX_TABLE_VALUE):
            raise ValueError(f"Encoding 'codebook' values must lie in "
                             f"{-MAX_TABLE_VALUE}..{MAX_TABLE_VALUE}, not {list(values)}")

    @property
    def min(self) -> int:
        """Smallest legal value."""
        if self.kind in TABLE_KINDS:
            return self.values[0]
        if self.kind in ("bipolar", "ternary"):
            return -1
        if self.kind == "uint":
            return 0
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        """Largest legal value."""
        if self.kind in TABLE_KINDS:
            return self.values[-1]
        if self.kind in ("bipolar", "ternary"):
            return 1
        if self.kind == "uint":
            return (1 << self.bits) - 1
        return (1 << (self.bits - 1)) - 1

    @property
    def signed(self) -> bool:
        """Whether the hardware element (the code) is a two's complement number."""
        return self.kind in ("int", "ternary", "ttq")

    @property
    def max_abs(self) -> int:
        """Largest magnitude a legal value can have."""
        return max(abs(self.min), abs(self.max))

    def contains(self, values: np.ndarray) -> bool:
        """Return whether every element of ``values`` is legal in this encoding."""
        values = np.asarray(values)
        if self.kind == "bipolar":
            return bool(np.all((values == 1) | (values == -1)))
        if self.kind in TABLE_KINDS:
            return bool(np.all(np.isin(values, self.values)))
        return bool(np.all((values >= self.min) & (values <= self.max)))

    def to_code(self, values: np.ndarray) -> np.ndarray:
        """Return the unsigned bit patterns that represent ``values`` in hardware.

        Bipolar -1/+1 become 0/1; two's complement values become their ``bits``-wide pattern;
        a TTQ value becomes the ternary code of its sign and a codebook value its index in the
        table (``values`` must be legal).
        """
        values = np.asarray(values, dtype=np.int64)
        if self.kind == "bipolar":
            return (values > 0).astype(np.int64)
        if self.kind == "ttq":
            return np.sign(values) & 3
        if self.kind == "codebook":
            return np.searchsorted(np.asarray(self.values, dtype=np.int64), values)
        return values & ((1 << self.bits) - 1)

    def from_code(self, codes: np.ndarray) -> np.ndarray:
        """Return the values that the unsigned bit patterns ``codes`` represent.

        A codebook code past the table's end reads as the last value (the hardware's table
        repeats it there).
        """
        mask = np.int64((1 << self.bits) - 1)
        codes = np.asarray(codes, dtype=np.int64) & mask
        if self.kind == "bipolar":
            return 2 * codes - 1
        if self.kind == "codebook":
            return np.asarray(self.values, dtype=np.int64)[np.minimum(codes,
                                                                      len(self.values) - 1)]
        if self.kind == "ttq":  # the sign bit selects -Wn (so 10 reads as -Wn), else bit 0
            return np.where(codes >> 1 != 0, self.values[0],
                            np.where(codes != 0, self.values[2], 0))
        if self.signed:  # set every bit above the sign bit of a negative code
            return np.where(codes >> (self.bits - 1) != 0, codes | ~mask, codes)
        return codes

    def to_json(self) -> dict:
        """Return the manifest form of this encoding."""
        if self.kind in TABLE_KINDS:
            return {"kind": self.kind, "bits": self.bits, "values": list(self.values)}
        return {"kind": self.kind, "bits": self.bits}

    def __str__(self) -> str:
        if self.kind in ("bipolar", "ternary"):
            return self.kind
        if self.kind == "ttq":
            return f"ttq[{self.values[0]}, 0, +{self.values[2]}]"
        if self.kind == "codebook":
            return f"codebook{self.bits}[{', '.join(map(str, self.values))}]"
        return f"{self.kind}{self.bits}"


BIPOLAR = Encoding("bipolar", 1)
TERNARY = Encoding("ternary", 2)


def uint(bits: int) -> Encoding:
    """Return the unsigned encoding of ``bits`` bits."""
    return Encoding("uint", bits)


def sint(bits: int) -> Encoding:
    """Return the two's complement encoding of ``bits`` bits."""
    return Encoding("int", bits)


def ttq(negative: int, positive: int) -> Encoding:
    """Return the TTQ encoding of values ``{-negative, 0, +positive}``."""
    return Encoding("ttq", 2, (-negative, 0, positive))


def codebook(bits: int, values) -> Encoding:
    """Return the codebook encoding of ``bits``-bit indices into the table ``values``."""
    return Encoding("codebook", bits, tuple(int(v) for v in values))


def signed_bits(low: int, high: int) -> int:
    """Return the width of the narrowest two's complement number holding ``low .. high``.

    Raises
    ------
    ValueError
        If ``low`` exceeds ``high``.
    """
    if low > high:
        raise ValueError(f"low must not exceed high, not {low} > {high}")
    # n bits hold -2**(n-1) .. 2**(n-1) - 1
    return 1 + max((-low - 1).bit_length() if low < 0 else low.bit_length(),
                   (-high - 1).bit_length() if high < 0 else high.bit_length())
