"""Population count: how many bits of a vector are set.

The heart of every binarized layer (``dot = 2 * popcount(xnor(x, w)) - n``). :func:`popcount`
builds a balanced adder tree: operands are paired level by level, each adder only as wide as the
count it can hold, so depth is ``ceil(log2(n))`` and Yosys maps it onto the fabric's carry chains.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Shape, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

__all__ = ["popcount", "adder_tree", "complement_if", "Popcount"]


def adder_tree(operands: list[Value], carries: list[Value] = ()) -> Value:
    """Return the sum of ``operands`` and of the 1-bit ``carries`` as a balanced adder tree.

    Amaranth widens each addition by one bit, so no sum can overflow. Each adder of the tree
    also adds one of ``carries`` (a carry-in costs no adder of its own); any left over, when
    there are more carries than adders, are added at the root. An empty list sums to 0.
    """
    level, carries = list(operands), list(carries)
    if not level:
        level = [Const(0, 1)]
    while len(level) > 1:
        paired = []
        for i in range(0, len(level) - 1, 2):
            total = level[i] + level[i + 1]
            paired.append(total + carries.pop() if carries else total)
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    total = level[0]
    for carry in carries:
        total = total + carry
    return total


def complement_if(m: Module, value: Value, invert: Value, width: int, name: str) -> Signal:
    """Return ``~value`` where ``invert`` else ``value``, as a ``signed(width)`` signal.

    ``~x == -x - 1``: a sum of such terms plus the number of inverted ones (given to
    :func:`adder_tree` as carries) is the sum of the ``-x`` and ``x`` terms, without the
    incrementer each negation would cost. ``width`` must hold ``value`` with a sign bit.
    """
    extended = Signal(signed(width), name=f"{name}_value")
    m.d.comb += extended.eq(value)
    result = Signal(signed(width), name=name)
    m.d.comb += result.eq(extended ^ invert.replicate(width))
    return result


def popcount(bits: Value) -> Value:
    """Return the number of set bits of ``bits``, ``bits_for(len(bits))`` bits wide."""
    count = adder_tree([bits[i] for i in range(len(bits))])
    return count[:bits_for(len(bits))] if len(bits) else count


class Popcount(wiring.Component):
    """Combinational population count of an ``width``-bit vector.

    Parameters
    ----------
    width : int
        Number of input bits.

    Attributes
    ----------
    bits : In(width)
        The vector.
    count : Out(bits_for(width))
        Number of ones in ``bits``.

    Raises
    ------
    TypeError
        If ``width`` is not a positive integer.
    """

    def __init__(self, width: int):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"Popcount width must be a positive integer, not {width!r}")
        self._width = width
        super().__init__({"bits": In(width), "count": Out(unsigned(bits_for(width)))})

    @property
    def width(self) -> int:
        return self._width

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        m.d.comb += self.count.eq(popcount(self.bits))
        return m


def count_shape(width: int) -> Shape:
    """Return the shape of the popcount of ``width`` bits."""
    return unsigned(bits_for(width))
