"""Pipelined adder tree: the balanced tree of :func:`~qnnforge.hw.cores.popcount.adder_tree` with a
register stage after every ``every`` levels, trading flip-flops and latency for clock speed.

The matrix-vector unit's staged dot product (:mod:`~qnnforge.hw.cores.staged_dot`) loads every
stage only under its ``advance`` enable, so a stall holds the tree.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, Value

__all__ = ["pipelined_adder_tree", "pipeline_latency", "tree_levels"]


def tree_levels(operands: int) -> int:
    """Return the number of adder levels of a balanced tree over ``operands`` values."""
    levels = 0
    while operands > 1:
        operands = (operands + 1) // 2
        levels += 1
    return levels


def pipeline_latency(operands: int, every: int) -> int:
    """Return the cycles a tree over ``operands`` values registered every ``every`` levels takes."""
    return max(1, -(-tree_levels(operands) // every))


def pipelined_adder_tree(m: Module, operands: list[Value], every: int, *,
                         enable: Value | None = None,
                         reset_less: bool = False) -> tuple[Value, int]:
    """Return ``(sum, latency)``: ``operands`` summed in a tree registered every ``every`` levels.

    The registers are in ``m.d.sync`` and load only while ``enable`` (always, if None); the sum
    appears ``latency = ceil(levels / every)`` cycles after its operands (the last stage is
    always registered, :func:`pipeline_latency`). ``reset_less`` registers take no reset: data
    whose validity travels beside them needs none, and on iCE40 a reset beside an enable splits
    a carry chain through LUTs.

    Raises
    ------
    ValueError
        If ``every`` is not a positive integer.
    """
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"register_every must be a positive integer, not {every!r}")
    level = list(operands) or [Const(0, 1)]
    latency, depth = 0, 0
    while True:
        if len(level) > 1:
            paired = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
            level = paired + ([level[-1]] if len(level) % 2 else [])
            depth += 1
        if depth == every or len(level) == 1:
            staged = []
            for value in level:
                register = Signal(Value.cast(value).shape(), reset_less=reset_less)
                if enable is None:
                    m.d.sync += register.eq(value)
                else:
                    with m.If(enable):
                        m.d.sync += register.eq(value)
                staged.append(register)
            level, depth, latency = staged, 0, latency + 1
            if len(level) == 1:
                return level[0], latency
