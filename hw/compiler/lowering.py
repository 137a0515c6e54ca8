"""Shapes of lowered values: encodings and integer ranges as Amaranth shapes.

Lowering itself (an artifact layer to the constants and shapes its hardware needs) is done by
each layer kind (:mod:`.layers`), its dot-product kind (:mod:`.dots`) and its output stage
(:mod:`.outputs`); this module holds the two conversions they all share.
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed, unsigned

from ...sw.encoding import Encoding, signed_bits

__all__ = ["element_shape", "signed_shape_for"]


def element_shape(encoding: Encoding) -> Shape:
    """Return the Amaranth shape of one element in ``encoding``."""
    if encoding.signed:
        return signed(encoding.bits)
    return unsigned(encoding.bits)


def signed_shape_for(low: int, high: int) -> Shape:
    """Return the narrowest signed shape holding every integer in ``low .. high``."""
    return signed(signed_bits(low, high))
