"""Validation of the integer parameters that size hardware (lanes, PE, SIMD, widths)."""

from __future__ import annotations

__all__ = ["positive_int"]


def positive_int(name: str, value) -> int:
    """Return ``value`` if it is a positive ``int`` (not a bool).

    Raises
    ------
    TypeError
        ``"<name> must be a positive integer, not <value!r>"`` otherwise.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    return value
