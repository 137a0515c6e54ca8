"""XNOR-popcount unit with a selectable popcount architecture, for the precision-cost explorer.

``popcount(~(x ^ w))`` over ``lanes`` bipolar lanes, built as

``"adder_tree"``
    the balanced adder tree of :func:`~qnnforge.hw.cores.popcount.popcount` (combinational);
``"pipelined"``
    the same tree with registers every ``register_every`` levels;
``"compressor"``
    a compressor tree: LUT-sized counters with the XNOR folded in, absorbed into carry chains
    (:mod:`qnnforge.hw.cores.compressor`, combinational);
``"constant"``
    the compressor tree over weights baked into the logic: no ``w`` port, no XNOR.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..cores.compressor import compressor_xnor_popcount, constant_xnor_popcount
from ..cores.pipelined_popcount import pipeline_latency, pipelined_adder_tree
from ..cores.popcount import count_shape, popcount

__all__ = ["ARCHITECTURES", "XnorPopcount"]

ARCHITECTURES = ("adder_tree", "pipelined", "compressor", "constant")
"""Popcount architectures, in the order the explorer reports them."""


class XnorPopcount(wiring.Component):
    """Number of agreeing lanes of ``x`` and ``w``, built with the chosen architecture.

    Parameters
    ----------
    lanes : int
        Number of lanes.
    architecture : str
        One of :data:`ARCHITECTURES`.
    lut_inputs : int
        Inputs of the target's LUT (sizes the compressor's counters).
    register_every : int
        For ``"pipelined"``: adder levels between register stages.
    weights : sequence of int, optional
        For ``"constant"``: the weight bits (1 = +1, 0 = -1), one per lane.

    Attributes
    ----------
    x : In(lanes)
        Activation bits.
    w : In(lanes)
        Weight bits; absent for ``"constant"``.
    count : Out(bits_for(lanes))
        ``popcount(~(x ^ w))``, :attr:`latency` cycles after ``x`` and ``w``.

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    ValueError
        If ``architecture`` is unknown, or ``weights`` is given for any architecture but
        ``"constant"`` or missing for it.
    """

    def __init__(self, lanes: int, architecture: str = "adder_tree", *, lut_inputs: int = 6,
                 register_every: int = 2, weights: Sequence[int] | None = None):
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
            raise TypeError(f"lanes must be a positive integer, not {lanes!r}")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"not {architecture!r}")
        if not isinstance(register_every, int) or isinstance(register_every, bool) \
                or register_every < 1:
            raise ValueError(f"register_every must be a positive integer, not {register_every!r}")
        if (weights is None) != (architecture != "constant"):
            raise ValueError("weights must be given for the constant architecture only")
        self._lanes, self._architecture = lanes, architecture
        self._lut_inputs, self._register_every = lut_inputs, register_every
        self._weights = None if weights is None else tuple(weights)
        ports = {"x": In(lanes), "count": Out(count_shape(lanes))}
        if weights is None:
            ports["w"] = In(lanes)
        super().__init__(ports)
        self._latency = (pipeline_latency(lanes, register_every) if architecture == "pipelined"
                         else 0)

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def architecture(self) -> str:
        return self._architecture

    @property
    def latency(self) -> int:
        """Cycles from ``x``/``w`` to ``count`` (0: combinational)."""
        return self._latency

    def elaborate(self, platform):
        m = Module()
        if self._architecture == "adder_tree":
            m.d.comb += self.count.eq(popcount(~(self.x ^ self.w)))
        elif self._architecture == "pipelined":
            agree = ~(self.x ^ self.w)
            total, _ = pipelined_adder_tree(m, [agree[i] for i in range(self._lanes)],
                                            self._register_every)
            m.d.comb += self.count.eq(total)
        elif self._architecture == "compressor":
            m.d.comb += self.count.eq(
                compressor_xnor_popcount(m, self.x, self.w, self._lut_inputs))
        else:
            m.d.comb += self.count.eq(
                constant_xnor_popcount(m, self.x, self._weights, self._lut_inputs))
        return m
