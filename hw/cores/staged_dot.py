"""Staged dot product: a dot unit's lanes cut into groups whose sums are registered.

Every dot-product kind sums one term per lane, so a dot product over ``lanes`` lanes is the sum of
the dot products of its lane groups. Cut into groups of ``2**levels`` lanes (each the kind's own
combinational unit, a tree of at most ``levels`` adder levels), with the group sums registered
and added in a tree registered every ``levels`` levels and at its root
(:func:`~qnnforge.hw.cores.pipelined_popcount.pipelined_adder_tree`), no path crosses more than
``levels`` adder levels, and the accumulator after it adds one registered sum (Yosys maps an
unregistered root and the accumulator's adder together into a deeper LUT network). ::

    x, w -> [group 0: unit of 2**levels lanes] -> reg --+
            [group 1: unit of 2**levels lanes] -> reg --+--> tree, a register every ``levels``
            ...                                         |    levels and at the root -> sum
            [group G-1: the remaining lanes]   -> reg --+

Every register loads only while ``en`` (the matrix-vector unit's ``advance``), so a stalled
output holds every stage and no partial sum is lost or repeated. The registers hold data whose
validity travels beside them (the unit's tags), so they take no reset. The sum appears
:func:`dot_stages` cycles after its operands; a dot product of at most ``2**levels`` lanes is one
group and stays combinational.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import positive_int
from .pipelined_popcount import pipeline_latency, pipelined_adder_tree, tree_levels
from .popcount import adder_tree

__all__ = ["StagedDot", "dot_stages"]

DotBuilder = Callable[[int], tuple[wiring.Component, Value]]
"""``build(lanes) -> (unit, result)``: a combinational dot unit (ports ``x``, ``w``) and its sum."""


def dot_stages(lanes: int, levels: int) -> int:
    """Return the registers a dot product of ``lanes`` lanes registered every ``levels`` adder
    levels takes: ``ceil(ceil(log2(lanes)) / levels)``, or none for at most ``2**levels`` lanes
    (one group) or ``levels`` 0."""
    if levels == 0 or tree_levels(lanes) <= levels:
        return 0
    return -(-tree_levels(lanes) // levels)


class StagedDot(wiring.Component):
    """A dot product of ``lanes`` lanes registered every ``levels`` adder levels.

    Parameters
    ----------
    build : callable
        ``build(n)`` returns a fresh combinational dot unit of ``n`` lanes (ports ``x`` and
        ``w``, lane ``i`` in bits ``i * width`` onwards) and its result.
    lanes : int
        Number of lanes.
    x_width, w_width : int
        Bits of one lane's activation and weight.
    levels : int
        Adder levels between registers.

    Attributes
    ----------
    x : In(lanes * x_width)
    w : In(lanes * w_width)
    en : In(1)
        Load every register (hold them all while 0).
    sum : Out(shape)
        The dot product of the operands :attr:`latency` enabled cycles earlier, as wide as the
        sum of the group results can grow.

    Raises
    ------
    TypeError
        If ``lanes``, ``x_width``, ``w_width`` or ``levels`` is not a positive integer.
    """

    def __init__(self, build: DotBuilder, lanes: int, x_width: int, w_width: int,
                 levels: int):
        for name, value in (("StagedDot lanes", lanes), ("x_width", x_width),
                            ("w_width", w_width), ("levels", levels)):
            positive_int(name, value)
        self._lanes, self._levels = lanes, levels
        self._widths = x_width, w_width
        size = 1 << levels
        self._groups = [(start, build(min(size, lanes - start)))
                        for start in range(0, lanes, size)]
        shape = adder_tree([Signal(Value.cast(result).shape())
                            for _, (_, result) in self._groups]).shape()
        super().__init__({"x": In(lanes * x_width), "w": In(lanes * w_width), "en": In(1),
                          "sum": Out(shape)})

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def latency(self) -> int:
        """Cycles from operands to their sum: :func:`dot_stages`."""
        return dot_stages(self._lanes, self._levels)

    def elaborate(self, platform):
        m = Module()
        x_width, w_width = self._widths
        if len(self._groups) == 1:
            (_, (unit, result)), = self._groups
            m.submodules.group0 = unit
            m.d.comb += [unit.x.eq(self.x), unit.w.eq(self.w), self.sum.eq(result)]
            return m
        partials = []
        for g, (start, (unit, result)) in enumerate(self._groups):
            m.submodules[f"group{g}"] = unit
            stop = start + unit.lanes
            m.d.comb += [unit.x.eq(self.x[start * x_width:stop * x_width]),
                         unit.w.eq(self.w[start * w_width:stop * w_width])]
            partial = Signal(Value.cast(result).shape(), name=f"partial{g}", reset_less=True)
            with m.If(self.en):
                m.d.sync += partial.eq(result)
            partials.append(partial)
        total, latency = pipelined_adder_tree(m, partials, self._levels, enable=self.en,
                                              reset_less=True)
        assert 1 + latency == self.latency == 1 + pipeline_latency(len(partials), self._levels)
        m.d.comb += self.sum.eq(total)
        return m
