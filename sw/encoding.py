"""Integer encodings of tensors: what a stored integer means and which values are legal.

Every tensor that crosses the software/hardware boundary (inputs, weights, activations) carries
one of these encodings in the model artifact. Values are always stored as their *mathematical*
integer value (a bipolar ``-1`` is stored as ``-1``, not as bit ``0``); how a value is packed into
bits is a property of the encoding, used by the hardware generator and the drivers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Encoding", "KINDS", "BIPOLAR", "TERNARY", "uint", "sint", "signed_bits"]

KINDS = ("bipolar", "ternary", "uint", "int")
"""Every encoding kind, as the manifest spells it."""


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
    bits : int
        Width of one element in hardware; must be 1 for ``"bipolar"``, 2 for ``"ternary"``,
        1..32 for ``"uint"`` and 2..63 for ``"int"`` (class scores can be wider than 32 bits;
        the artifact limits weights and activations further).

    Raises
    ------
    TypeError
        If ``bits`` is not an integer.
    ValueError
        If ``kind`` is unknown or ``bits`` is out of range for it.
    """

    kind: str
    bits: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"Encoding kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not isinstance(self.bits, int) or isinstance(self.bits, bool):
            raise TypeError(f"Encoding bits must be an integer, not {self.bits!r}")
        low, high = {"bipolar": (1, 1), "ternary": (2, 2), "uint": (1, 32),
                     "int": (2, 63)}[self.kind]
        if not low <= self.bits <= high:
            raise ValueError(
                f"Encoding {self.kind!r} needs bits in {low}..{high}, not {self.bits}")

    @property
    def min(self) -> int:
        """Smallest legal value."""
        if self.kind in ("bipolar", "ternary"):
            return -1
        if self.kind == "uint":
            return 0
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        """Largest legal value."""
        if self.kind in ("bipolar", "ternary"):
            return 1
        if self.kind == "uint":
            return (1 << self.bits) - 1
        return (1 << (self.bits - 1)) - 1

    @property
    def signed(self) -> bool:
        """Whether the hardware element is a two's complement number."""
        return self.kind in ("int", "ternary")

    @property
    def max_abs(self) -> int:
        """Largest magnitude a legal value can have."""
        return max(abs(self.min), abs(self.max))

    def contains(self, values: np.ndarray) -> bool:
        """Return whether every element of ``values`` is legal in this encoding."""
        values = np.asarray(values)
        if self.kind == "bipolar":
            return bool(np.all((values == 1) | (values == -1)))
        return bool(np.all((values >= self.min) & (values <= self.max)))

    def to_code(self, values: np.ndarray) -> np.ndarray:
        """Return the unsigned bit patterns that represent ``values`` in hardware.

        Bipolar -1/+1 become 0/1; two's complement values become their ``bits``-wide pattern.
        """
        values = np.asarray(values, dtype=np.int64)
        if self.kind == "bipolar":
            return (values > 0).astype(np.int64)
        return values & ((1 << self.bits) - 1)

    def from_code(self, codes: np.ndarray) -> np.ndarray:
        """Return the values that the unsigned bit patterns ``codes`` represent."""
        mask = np.int64((1 << self.bits) - 1)
        codes = np.asarray(codes, dtype=np.int64) & mask
        if self.kind == "bipolar":
            return 2 * codes - 1
        if self.signed:  # set every bit above the sign bit of a negative code
            return np.where(codes >> (self.bits - 1) != 0, codes | ~mask, codes)
        return codes

    def to_json(self) -> dict:
        """Return the manifest form of this encoding."""
        return {"kind": self.kind, "bits": self.bits}

    def __str__(self) -> str:
        return self.kind if self.kind in ("bipolar", "ternary") else f"{self.kind}{self.bits}"


BIPOLAR = Encoding("bipolar", 1)
TERNARY = Encoding("ternary", 2)


def uint(bits: int) -> Encoding:
    """Return the unsigned encoding of ``bits`` bits."""
    return Encoding("uint", bits)


def sint(bits: int) -> Encoding:
    """Return the two's complement encoding of ``bits`` bits."""
    return Encoding("int", bits)


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
