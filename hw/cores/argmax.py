"""Argmax stage: the class with the highest score, ties to the lowest index, plus all scores.

Scores arrive ``lanes`` per beat (the output layer's PE), ``classes / lanes`` beats per vector.
A running maximum is updated with a strict ``>`` chain across each beat, so the first of equal
scores wins, which is :func:`numpy.argmax`'s rule and the artifact's ``lowest_index`` tie break.

A chain of ``lanes`` comparisons, each choosing the operand of the next, is a long path. The
pipelined argmax (``pipelined=True``) compares instead in a tournament tree over the beat's
lanes, one level of comparisons a cycle (a lane wins against a later one unless the later one is
strictly greater, so ties still go to the lowest index). The tree's winner then meets the running
maximum, whose classes all come before the beat's, without a comparison in a loop: the running
maximum is kept as ``prev``, the last beat's winner, ``rest``, the best of the beats before it,
and ``chosen``, whether ``prev`` beat ``rest`` (or began the vector), so the best so far is
``prev if chosen else rest``. The winner is compared with both registers, and ``chosen`` picks
the comparison that counts::

    chosen' = first | (winner > prev if chosen else winner > rest)
    rest'   = prev if chosen else rest,    prev' = winner

A comparison's operands are registers and its result goes to one register, not to another
comparison or to an enable. When ``prev`` is a vector's last beat, its result is
``prev if chosen else rest``, registered a cycle later. Scores are compared as unsigned keys of
the same order (a signed score with its sign bit inverted), whose comparison on iCE40 is its
carry chain's output alone.

The beat's scores travel beside the tree and are written into the result as the winner reaches
``prev``. Every register loads only while the output can move (``advance = ~o.valid | o.ready``,
which is also ``i.ready``), so a stall holds the whole pipeline; a result comes out
:attr:`Argmax.latency` cycles later than unpipelined (:func:`argmax_registers`: the tree's levels
and ``prev``), at the same rate of a beat a cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .params import index_shape, positive_int
from .pipelined_popcount import tree_levels

__all__ = ["Argmax", "argmax_registers", "result_layout"]


def argmax_registers(lanes: int, pipelined: bool) -> int:
    """Return the registers a pipelined argmax of ``lanes`` lanes adds between a vector's last
    beat and its result: a level of its tree a cycle, then the running maximum (0
    unpipelined)."""
    return tree_levels(lanes) + 1 if pipelined else 0


def result_layout(score_shape, classes: int) -> data.StructLayout:
    """Return the layout of one result: ``cls`` and every ``scores`` entry."""
    return data.StructLayout({"cls": unsigned(bits_for(classes - 1)),
                              "scores": data.ArrayLayout(score_shape, classes)})


def _order_key(score: Value) -> Value:
    """Return an unsigned value that orders as ``score`` does: a signed score with its sign bit
    inverted (offset binary), an unsigned one as it is."""
    if score.shape().signed:
        return Cat(score[:-1], ~score[-1])
    return score


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
    pipelined : bool
        Compare in a registered tree instead of a chain.

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

    def __init__(self, score_shape, classes: int, lanes: int, *, pipelined: bool = False):
        positive_int("Argmax classes", classes)
        positive_int("Argmax lanes", lanes)
        if classes % lanes:
            raise ValueError(f"Argmax lanes must divide classes ({classes}), not {lanes}")
        self._score_shape = Shape.cast(score_shape)
        self._classes = classes
        self._lanes = lanes
        if not isinstance(pipelined, bool):
            raise TypeError(f"Argmax pipelined must be a bool, not {pipelined!r}")
        self._pipelined = pipelined
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(self._score_shape, lanes))),
            "o_stream": Out(stream.Signature(result_layout(self._score_shape, classes))),
        })

    @property
    def latency(self) -> int:
        """Cycles a result takes beyond the unpipelined argmax's: :func:`argmax_registers`."""
        return argmax_registers(self._lanes, self._pipelined)

    def elaborate(self, platform):
        if self._pipelined:
            return self._elaborate_tree()
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

    def _elaborate_tree(self):
        m = Module()
        lanes, beats = self._lanes, self._classes // self._lanes
        i, o = self.i_stream, self.o_stream
        width = lanes * self._score_shape.width
        advance = Signal()
        m.d.comb += [advance.eq(~o.valid | o.ready), i.ready.eq(advance)]
        beat = Signal(index_shape(beats))
        with m.If(i.valid & advance):
            m.d.sync += beat.eq(Mux(beat == beats - 1, 0, beat + 1))

        # the beat's tag and scores, and its candidates (score, class), a tree level a stage
        tag = data.StructLayout({"valid": 1, "first": 1, "last": 1, "beat": index_shape(beats),
                                 "scores": unsigned(width)})
        staged = Signal(tag, name="stage0")
        m.d.comb += [staged.valid.eq(i.valid), staged.first.eq(beat == 0),
                     staged.last.eq(beat == beats - 1), staged.beat.eq(beat),
                     staged.scores.eq(i.payload.as_value())]
        # A candidate carries its lane (the class, beat * lanes + lane, is formed after the tree)
        # and its score as an unsigned key of the same order: a signed score with its sign bit
        # inverted. On iCE40 an unsigned comparison is its carry chain's output, a signed one
        # takes two more LUTs after it.
        key_shape = unsigned(self._score_shape.width)
        candidates = [(_order_key(i.payload[lane]), lane) for lane in range(lanes)]
        lane_shape = index_shape(lanes)
        for level in range(tree_levels(lanes)):
            paired = []
            for k in range(0, len(candidates) - 1, 2):
                (a, a_index), (b, b_index) = candidates[k], candidates[k + 1]
                paired.append((Mux(b > a, b, a), Mux(b > a, b_index, a_index)))
            if len(candidates) % 2:
                paired.append(candidates[-1])
            candidates = []
            for k, (key, index) in enumerate(paired):
                # data registers: the stage tags say which are valid
                key_reg = Signal(key_shape, name=f"key{level + 1}_{k}", reset_less=True)
                index_reg = Signal(lane_shape, name=f"lane{level + 1}_{k}", reset_less=True)
                with m.If(advance):
                    m.d.sync += [key_reg.eq(key), index_reg.eq(index)]
                candidates.append((key_reg, index_reg))
            following = Signal(tag, name=f"stage{level + 1}")
            with m.If(advance):
                m.d.sync += following.eq(staged)
            staged = following
        (winner, winner_lane), = candidates
        index_shape_ = index_shape(self._classes)

        # the running maximum: `prev`, `rest` and `chosen` (see the module's docstring)
        prev_key = Signal(key_shape, reset_less=True)
        prev_index = Signal(index_shape_, reset_less=True)
        rest_key = Signal(key_shape, reset_less=True)
        rest_index = Signal(index_shape_, reset_less=True)
        chosen = Signal()
        due = Signal()  # `prev` is a vector's last beat, its result not yet given
        scores = Signal(data.ArrayLayout(self._score_shape, self._classes), reset_less=True)
        with m.If(advance & staged.valid):
            m.d.sync += [
                chosen.eq(staged.first | Mux(chosen, winner > prev_key, winner > rest_key)),
                prev_key.eq(winner), prev_index.eq(staged.beat * lanes + winner_lane),
                rest_key.eq(Mux(chosen, prev_key, rest_key)),
                rest_index.eq(Mux(chosen, prev_index, rest_index)),
                scores.as_value().word_select(staged.beat, width).eq(staged.scores)]
        with m.If(advance):
            m.d.sync += due.eq(staged.valid & staged.last)
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(advance & due):
            m.d.sync += [o.valid.eq(1), o.payload.cls.eq(Mux(chosen, prev_index, rest_index)),
                         o.payload.scores.as_value().eq(scores.as_value())]
        return m
