"""The integer parameters that size hardware: their validation (lanes, PE, SIMD, widths) and the
shapes of the counters and memories they size.

A counter over ``n`` values is ``range(n)``, which for ``n == 1`` is zero bits wide; Verilog has
no zero-width wire, so the generated Verilog would declare ``wire [-1:0] sf;`` (Verilator's
ASCRANGE). :func:`index_shape` and :func:`memory_depth` keep every counter and memory address at
least one bit wide; a one-bit counter over one value stays 0, since every increment of a counter
is guarded by a comparison with its last value.
"""

from __future__ import annotations

from amaranth.hdl import Shape, unsigned
from amaranth.utils import bits_for

__all__ = ["positive_int", "index_shape", "memory_depth"]


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


def index_shape(count: int) -> Shape:
    """Return the shape of an index over ``count`` values: ``range(count)``, but at least one
    bit wide (a counter over one value is a constant 0 bit, not a zero-width wire)."""
    return unsigned(max(1, bits_for(positive_int("count", count) - 1)))


def memory_depth(words: int) -> int:
    """Return the depth of a memory holding ``words`` words: at least 2, so that its address is
    at least one bit wide (the spare word of a one-word memory is never addressed)."""
    return max(2, positive_int("words", words))
