"""XNOR-popcount units of every popcount architecture the cost explorer compares.

``popcount(~(x ^ w))`` over ``lanes`` bipolar lanes, built as

``"adder_tree"``
    :class:`~qnnforge.hw.cores.xnor_dot.XnorDot` with the balanced adder tree of
    :func:`~qnnforge.hw.cores.popcount.popcount` (combinational);
``"compressor"``
    :class:`~qnnforge.hw.cores.xnor_dot.XnorDot` with the compressor tree of
    :mod:`~qnnforge.hw.cores.compressor` (combinational);
``"pipelined"``
    :class:`PipelinedXnorPopcount`: the adder tree with registers every ``register_every``
    levels;
``"constant"``
    :class:`ConstantXnorPopcount`: the compressor tree over weights baked into the logic, with
    no ``w`` port and no XNOR.

The first two are the units the matrix-vector unit builds. The last two stay here: a pipelined
popcount would add cycles to the matrix-vector unit's cycle model, and constant weights would
replace its weight memory. Both are built from the same shared functions
(:func:`~qnnforge.hw.cores.pipelined_popcount.pipelined_adder_tree`,
:func:`~qnnforge.hw.cores.compressor.constant_xnor_popcount`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..cores.compressor import check_lut_inputs, constant_xnor_popcount
from ..cores.params import positive_int
from ..cores.pipelined_popcount import pipeline_latency, pipelined_adder_tree
from ..cores.popcount import count_shape
from ..cores.xnor_dot import POPCOUNTS, XnorDot

__all__ = ["ARCHITECTURES", "PipelinedXnorPopcount", "ConstantXnorPopcount", "xnor_unit",
           "latency", "constant_weights"]

ARCHITECTURES = ("adder_tree", "pipelined", "compressor", "constant")
"""Popcount architectures, in the order the explorer reports them."""


def constant_weights(lanes: int, seed: int = 1) -> list[int]:
    """Return the fixed pseudo-random weight bits the constant-weight designs bake in."""
    rng = random.Random(seed)
    return [rng.randint(0, 1) for _ in range(lanes)]


def _check_register_every(register_every) -> int:
    if not isinstance(register_every, int) or isinstance(register_every, bool) \
            or register_every < 1:
        raise ValueError(f"register_every must be a positive integer, not {register_every!r}")
    return register_every


class PipelinedXnorPopcount(wiring.Component):
    """Number of agreeing lanes of ``x`` and ``w`` from an adder tree with register stages.

    Parameters
    ----------
    lanes : int
        Number of lanes.
    register_every : int
        Adder levels between register stages.

    Attributes
    ----------
    x, w : In(lanes)
        Activation and weight bits (1 = +1, 0 = -1).
    count : Out(bits_for(lanes))
        ``popcount(~(x ^ w))``, :attr:`latency` cycles after ``x`` and ``w``.

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    ValueError
        If ``register_every`` is not a positive integer.
    """

    def __init__(self, lanes: int, register_every: int = 2):
        self._lanes = positive_int("lanes", lanes)
        self._register_every = _check_register_every(register_every)
        super().__init__({"x": In(lanes), "w": In(lanes), "count": Out(count_shape(lanes))})

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def latency(self) -> int:
        """Cycles from ``x``/``w`` to ``count``."""
        return pipeline_latency(self._lanes, self._register_every)

    def elaborate(self, platform):
        m = Module()
        agree = ~(self.x ^ self.w)
        total, _ = pipelined_adder_tree(m, [agree[i] for i in range(self._lanes)],
                                        self._register_every)
        m.d.comb += self.count.eq(total)
        return m


class ConstantXnorPopcount(wiring.Component):
    """Number of lanes of ``x`` that agree with weights fixed at elaboration time.

    Parameters
    ----------
    weights : sequence of int
        The weight bits (1 = +1, 0 = -1), one per lane.
    lut_inputs : int
        Inputs of the target's LUT (sizes the compressor's counters).

    Attributes
    ----------
    x : In(len(weights))
        Activation bits.
    count : Out(bits_for(len(weights)))
        ``popcount(~(x ^ weights))``, combinational.

    Raises
    ------
    TypeError
        If ``weights`` is empty.
    ValueError
        If a weight is not 0 or 1, or ``lut_inputs`` is not an integer of at least 3.
    """

    def __init__(self, weights: Sequence[int], *, lut_inputs: int = 6):
        self._weights = tuple(weights)
        lanes = positive_int("lanes", len(self._weights))
        for lane, weight in enumerate(self._weights):
            if isinstance(weight, bool) or weight not in (0, 1):
                raise ValueError(f"weight {lane} must be 0 or 1, not {weight!r}")
        self._lut_inputs = check_lut_inputs(lut_inputs)
        super().__init__({"x": In(lanes), "count": Out(count_shape(lanes))})

    @property
    def lanes(self) -> int:
        return len(self._weights)

    @property
    def latency(self) -> int:
        """Cycles from ``x`` to ``count``: 0, the unit is combinational."""
        return 0

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.count.eq(constant_xnor_popcount(m, self.x, self._weights,
                                                         self._lut_inputs))
        return m


def xnor_unit(lanes: int, architecture: str = "adder_tree", *, lut_inputs: int = 6,
              register_every: int = 2,
              weights: Sequence[int] | None = None) -> wiring.Component:
    """Return the XNOR-popcount unit of ``architecture`` over ``lanes`` lanes.

    An :class:`XnorDot` for the architectures the accelerator builds
    (:data:`~qnnforge.hw.cores.xnor_dot.POPCOUNTS`), else an explorer-only unit.

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

    Raises
    ------
    TypeError
        If ``lanes`` is not a positive integer.
    ValueError
        If ``architecture`` is unknown, ``register_every`` is not a positive integer, or
        ``weights`` is given for any architecture but ``"constant"`` or missing for it.
    """
    positive_int("lanes", lanes)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                         f"not {architecture!r}")
    _check_register_every(register_every)
    constant = architecture == "constant"
    if (weights is None) == constant:
        raise ValueError("weights must be given for the constant architecture only")
    if constant:
        if len(weights) != lanes:
            raise ValueError(f"weights must hold {lanes} bits, not {len(weights)}")
        return ConstantXnorPopcount(weights, lut_inputs=lut_inputs)
    if architecture in POPCOUNTS:
        return XnorDot(lanes, popcount=architecture, lut_inputs=lut_inputs)
    return PipelinedXnorPopcount(lanes, register_every)


def latency(unit: wiring.Component) -> int:
    """Return the cycles from operands to count of a unit :func:`xnor_unit` built.

    An :class:`XnorDot` is combinational: the matrix-vector unit's cycle model relies on it.
    """
    return 0 if isinstance(unit, XnorDot) else unit.latency
