"""Argmax stage: the class with the highest score, ties to the lowest index, plus all scores.

Scores arrive ``lanes`` per beat (the output layer's PE), ``classes / lanes`` beats per vector.
A running maximum is updated with a strict ``>`` chain across each beat, so the first of equal
scores wins, which is :func:`numpy.argmax`'s rule and the artifact's ``lowest_index`` tie break.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .params import index_shape, positive_int

__all__ = ["Argmax", "result_layout"]


def result_layout(score_shape, classes: int) -> data.StructLayout:
    """Return the layout of one result: ``cls`` and every ``scores`` entry."""
    return data.StructLayout({"cls": unsigned(bits_for(classes - 1)),
                              "scores": data.ArrayLayout(score_shape, classes)})


class Argmax(wiring.Component):
    """Streamed argmax over ``classes`` scores arriving ``lanes`` per beat.

    Parameters
    ----------
    score_shape : Shape
        Shape of one score.
    classes : int
        Number of scores per vector.
    lanes : int
        Scores per input beat; must divide ``classes``.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(score_shape, lanes)))
    o_stream : Out(stream.Signature(result_layout(score_shape, classes)))

    Raises
    ------
    TypeError
        If ``classes`` or ``lanes`` is not a positive integer.
    ValueError
        If ``lanes`` does not divide ``classes``.
    """

    def __init__(self, score_shape, classes: int, lanes: int):
        positive_int("Argmax classes", classes)
        positive_int("Argmax lanes", lanes)
        if classes % lanes:
            raise ValueError(f"Argmax lanes must divide classes ({classes}), not {lanes}")
        self._score_shape = Shape.cast(score_shape)
        self._classes = classes
        self._lanes = lanes
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(self._score_shape, lanes))),
            "o_stream": Out(stream.Signature(result_layout(self._score_shape, classes))),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, beats = self._lanes, self._classes // self._lanes
        i, o = self.i_stream, self.o_stream
        beat = Signal(index_shape(beats))
        scores = Signal(data.ArrayLayout(self._score_shape, self._classes))
        best = Signal(self._score_shape)
        best_index = Signal(index_shape(self._classes))

        # Strict-greater chain over the beat, seeded with the running maximum (or lane 0).
        run_score, run_index = Mux(beat == 0, i.payload[0], best), Mux(beat == 0, 0, best_index)
        for lane in range(lanes):
            index = beat * lanes + lane
            better = i.payload[lane] > run_score
            run_score = Mux(better, i.payload[lane], run_score)
            run_index = Mux(better, index, run_index)

        last = beat == beats - 1
        m.d.comb += i.ready.eq(~last | ~o.valid | o.ready)
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & i.ready):
            m.d.sync += [scores.as_value().word_select(beat, lanes * self._score_shape.width)
                         .eq(i.payload.as_value()), best.eq(run_score), best_index.eq(run_index)]
            with m.If(last):
                m.d.sync += [beat.eq(0), o.valid.eq(1), o.payload.cls.eq(run_index),
                             o.payload.scores.as_value().eq(scores.as_value())]
                m.d.sync += o.payload.scores.as_value().word_select(
                    beat, lanes * self._score_shape.width).eq(i.payload.as_value())
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        return m
