"""Skid buffer: a stream register stage whose ``ready`` is a register, not its consumer's.

A stage that takes input only when its output can move (``ready = ~o.valid | o.ready``) passes
its consumer's ``ready`` back combinationally, and a row of such stages makes one long path from
the last consumer to every stage's enables. A skid buffer cuts it: its ``i.ready`` is
``~skid.valid``, a register. While the output is taken or empty, the input goes straight to the
output register; when the output stalls, the beat that was already accepted that cycle waits in
the skid register and the input stops the cycle after. So one beat a cycle passes at full rate,
none is lost or repeated, and a beat comes out :data:`SKID_LATENCY` cycle after it went in. ::

    i_stream --+--------------> [output register] --> o_stream
               +--> [skid] --/
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer", "SKID_LATENCY"]

SKID_LATENCY = 1
"""Cycles from a beat taken to the beat offered, at full rate."""


class SkidBuffer(wiring.Component):
    """A two-register stream stage with a registered ``i.ready``.

    Parameters
    ----------
    shape : ShapeLike
        The payload's shape or layout.

    Attributes
    ----------
    i_stream : In(stream.Signature(shape))
    o_stream : Out(stream.Signature(shape))
    """

    def __init__(self, shape):
        super().__init__({"i_stream": In(stream.Signature(shape)),
                          "o_stream": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        skid_valid = Signal()
        skid = Signal.like(i.payload, reset_less=True)
        m.d.comb += i.ready.eq(~skid_valid)
        with m.If(~o.valid | o.ready):
            with m.If(skid_valid):
                m.d.sync += [o.payload.eq(skid), o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [o.payload.eq(i.payload), o.valid.eq(i.valid)]
        with m.Elif(i.valid & i.ready):
            m.d.sync += [skid.eq(i.payload), skid_valid.eq(1)]
        return m
