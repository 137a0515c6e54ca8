"""Window-max unit: the per-channel maximum over each window of the sliding-window unit.

Per output pixel the input is ``window`` positions, each ``C / L`` beats of ``L`` channels (the
:class:`~.sliding_window.SlidingWindow`'s order); the output is ``C / L`` beats holding, per
channel, the maximum over the positions: :func:`qnnforge.sw.reference.maxpool2d` after the
sliding-window unit. Elements compare as values of ``element_shape``: unsigned codes (for bipolar
codes the maximum is the OR), signed codes as two's complement.

Structure::

    i_stream -> max(head, beat) -> [partial maxima: C/L words, a delay line] -> head
                       \\-- last position --> output register -> o_stream

* The partial maxima of one pixel sit in a delay line of ``C / L`` words that shifts by one word
  per accepted beat, so the beat of channel group ``cg`` always meets its own partial maximum at
  the head; the first position takes the beat as it is.
* The beat of the last position is the result; it goes to the output register, so one input
  beat a cycle is accepted and every ``window``-th group of ``C / L`` beats is emitted.
* Backpressure: beats of earlier positions are always accepted; a beat of the last position only
  when the output register is empty or being emptied (``~o.valid | o.ready``).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import positive_int

__all__ = ["WindowMax"]


class WindowMax(wiring.Component):
    """Streamed per-channel maximum over ``window`` positions, ``lanes`` channels a beat.

    Parameters
    ----------
    element_shape : Shape
        Shape of one element; the comparison is of values of this shape.
    channels : int
        Channels ``C`` of one position.
    lanes : int
        Elements per beat ``L``; must divide ``channels``.
    window : int
        Positions per window (``KH * KW``).

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(element_shape, lanes)))
        Windows, ``window * C / L`` beats each: position by position, channel group by group.
    o_stream : Out(stream.Signature(ArrayLayout(element_shape, lanes)))
        Maxima, ``C / L`` beats per window, in channel order.

    Raises
    ------
    TypeError
        If ``channels``, ``lanes`` or ``window`` is not a positive integer.
    ValueError
        If ``lanes`` does not divide ``channels``.
    """

    def __init__(self, element_shape, *, channels: int, lanes: int, window: int):
        positive_int("channels", channels)
        positive_int("lanes", lanes)
        positive_int("window", window)
        if channels % lanes:
            raise ValueError(f"lanes must be a positive integer dividing {channels}, not {lanes}")
        self._element_shape = Shape.cast(element_shape)
        self._channels = channels
        self._lanes = lanes
        self._window = window
        layout = data.ArrayLayout(self._element_shape, lanes)
        super().__init__({
            "i_stream": In(stream.Signature(layout)),
            "o_stream": Out(stream.Signature(layout)),
        })

    @property
    def element_shape(self) -> Shape:
        return self._element_shape

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def window(self) -> int:
        return self._window

    def elaborate(self, platform):
        m = Module()
        layout = data.ArrayLayout(self._element_shape, self._lanes)
        groups = self._channels // self._lanes
        i, o = self.i_stream, self.o_stream

        group = Signal(range(groups))
        position = Signal(range(self._window))
        partial = [Signal(layout, name=f"partial{g}") for g in range(groups)]
        head = partial[0]
        first, last = position == 0, position == self._window - 1
        maxima = Signal(layout)
        for lane in range(self._lanes):
            x, y = i.payload[lane], head[lane]
            m.d.comb += maxima[lane].eq(Mux(first | (x > y), x, y))

        m.d.comb += i.ready.eq(~last | ~o.valid | o.ready)
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & i.ready):
            m.d.sync += [dst.eq(src) for dst, src in zip(partial, partial[1:] + [maxima])]
            with m.If(last):
                m.d.sync += [o.valid.eq(1), o.payload.eq(maxima)]
            with m.If(group == groups - 1):
                m.d.sync += [group.eq(0), position.eq(Mux(last, 0, position + 1))]
            with m.Else():
                m.d.sync += group.eq(group + 1)
        return m
