"""Matrix-vector unit: a dense layer folded FINN-style onto PE x SIMD lanes.

Every cycle the unit multiplies ``SIMD`` input elements by the matching weights of ``PE`` output
channels. An input vector of ``K`` elements takes ``SF = ceil(K / SIMD)`` cycles per group of
``PE`` outputs and there are ``NF = N / PE`` groups, so one vector costs ``NF * SF`` cycles.
Output channel ``c`` is computed by PE ``c % PE`` in fold ``c // PE``; the weight memory holds one
``PE x SIMD`` word per (fold, step) in that order.

Structure::

    i_stream -> [input buffer: Memory, 2 banks] -> issue (nf, sf) -> [weights, thresholds: Memory]
             -> PE dot units -> accumulators -> threshold / score -> o_stream (PE elements)

* The input buffer holds whole vectors as ``SIMD``-element words in memory (LUTRAM or block
  RAM), not in registers behind a wide multiplexer. It has two banks, so the next vector streams
  in while the current one is being reused ``NF`` times; in steady state the unit is busy every
  cycle. The issue stage reads word ``sf`` by address in the same cycle as the weight word, so
  both arrive together.
* Beats of ``in_lanes`` elements are written as they arrive, one beat a cycle, whatever
  ``in_lanes`` and ``SIMD`` are. Word ``j`` (elements ``j * SIMD ..``) lives in column
  ``j mod C`` of ``C`` memories, at row ``j div C`` of its bank; a row of the ``C`` columns is
  ``C * SIMD`` consecutive elements. ``C`` is the most words one beat can touch
  (``ceil((SIMD - gcd + in_lanes) / SIMD)``, ``gcd = gcd(in_lanes, SIMD)``), so a beat writes each
  column at most once: its lanes are rotated to the row position where it starts and written
  under a lane mask, the part past the row's end into the next row. When ``in_lanes`` divides
  ``SIMD`` that is one memory and no rotation; when ``SIMD`` divides ``in_lanes``, one beat is
  ``C`` whole words, one per memory.
* When ``SIMD`` does not divide ``K``, the last step reads ``K mod SIMD`` real lanes. The padding
  lanes are never written, so they keep the memory's initial input code 0, and their weight codes
  are chosen to make them contribute nothing: weight code 1 for XNOR (0 XNOR 1 = 0, not counted),
  code 0 for every other dot kind (their inputs are fixed-point, so code 0 is the value 0).
* Every precision uses the same folding and streams; only the per-lane dot unit (XNOR-popcount,
  add/subtract, ternary add/subtract/skip, fixed-point multiplier) and the output stage
  (threshold, multi-threshold, requantizer, score) differ. The unit asks the layer's dot kind
  (:mod:`~qnnforge.hw.compiler.dots`) and output stage (:mod:`~qnnforge.hw.compiler.outputs`)
  for them. The output constants of each fold (bounds and flips, requantization parameters or
  score offsets) sit in a second memory, in the layout the stage gives.
* Backpressure: the whole compute pipeline advances only when the output register is empty or
  being emptied (``advance = ~o.valid | o.ready``), so a stalled consumer never loses a result.
* Pipelining (``options.pipeline = L > 0``): the dot product of each PE is a
  :class:`~qnnforge.hw.cores.staged_dot.StagedDot` registered every ``L`` adder levels, and a
  result register holds each accumulator's final value before the output stage. Every added
  register loads under ``advance`` too, and a tag (busy, first, last, fold) travels beside the
  data, so the accumulator and the output stage see their step's flags and the constants are
  read one cycle before the output stage from the fold in its tag. The unit still takes a step
  a cycle; a vector's latency grows by :attr:`MatrixVectorUnit.stages`
  (:func:`mvu_registers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..compiler.folding import layer_cycles
from ..compiler.options import HardwareOptions
from .params import index_shape, memory_depth, positive_int
from .staged_dot import StagedDot, dot_stages

if TYPE_CHECKING:
    from ..compiler.layers.dense import LoweredDense

__all__ = ["MatrixVectorUnit", "mvu_registers", "LOGIC_ROM_WORDS"]

LOGIC_ROM_WORDS = 32
"""Most folds whose output constants a pipelined unit leaves to synthesis to place (a ROM of 32
words is two LUT4 levels); above, it asks for a block RAM."""


@dataclass(frozen=True)
class _Piece:
    """The part of a beat that one column takes: ``count`` lanes from beat lane ``beat_lane``
    to word lane ``lane``, in the beat's row or, when ``wrapped``, the next one."""

    column: int
    lane: int
    beat_lane: int
    count: int
    wrapped: bool


class _Packing:
    """Where the input buffer puts each beat: ``C`` columns of ``SIMD``-element words.

    Element ``e`` of a vector is lane ``e mod SIMD`` of word ``e div SIMD``; word ``j`` is in
    column ``j mod C``, row ``j div C``. A beat starting at element ``e`` starts at lane
    ``e mod (C * SIMD)`` of its row (its *position*): the positions a vector's beats take, and
    what each column takes at each, are fixed by the folding and tabulated here.
    """

    def __init__(self, fan_in: int, simd: int, in_lanes: int):
        self.granularity = math.gcd(in_lanes, simd)
        self.columns = -(-(simd - self.granularity + in_lanes) // simd)
        self.rows = -(-math.ceil(fan_in / simd) // self.columns)
        row_lanes = self.columns * simd
        self.row_lanes = row_lanes
        self.positions = sorted({b * in_lanes % row_lanes for b in range(fan_in // in_lanes)})
        self.pieces = {}
        for p in self.positions:
            pieces = []
            for beat_lane in range(0, in_lanes, self.granularity):
                q = p + beat_lane
                column, lane = divmod(q % row_lanes, simd)
                last = pieces[-1] if pieces else None
                if last is not None and last.column == column:
                    pieces[-1] = _Piece(column, last.lane, last.beat_lane,
                                        last.count + self.granularity, last.wrapped)
                else:
                    pieces.append(_Piece(column, lane, beat_lane, self.granularity,
                                         q >= row_lanes))
            assert len({piece.column for piece in pieces}) == len(pieces)
            self.pieces[p] = pieces

    def sources(self) -> dict[tuple[int, int], set[int]]:
        """Return, for each written ``(column, lane)``, the beat lanes it takes over positions."""
        sources = {}
        for pieces in self.pieces.values():
            for piece in pieces:
                for k in range(piece.count):
                    sources.setdefault((piece.column, piece.lane + k), set()).add(
                        piece.beat_lane + k)
        return sources


class _Banks:
    """The input buffer's two banks: which hold a whole vector (``full``), which one the writer
    fills and which one the issue stage reads.

    The writer raises ``fill`` as it writes a vector's last beat, the issue stage ``drain`` as
    it issues a bank's last step; each then moves to the other bank. The input's ready
    (``accepting``: the writer's bank is not full) and ``issuing`` (the reader's bank is full)
    are registers, loaded with the next state, so neither the stream's handshake nor the issue
    stage's enables start with a multiplexer over ``full`` (on iCE40 that LUT, and the route
    from it, lay on the longest paths of the digits MLP).
    """

    def __init__(self, holdable: bool = False):
        self.full = Signal(2)
        self.write_bank, self.read_bank = Signal(), Signal()
        self.fill, self.drain = Signal(), Signal()
        self.accepting, self.issuing = Signal(init=1), Signal()
        self.holdable = holdable
        self.held = Signal()

    def add_registers(self, m: Module) -> None:
        """Add the banks' registers, loaded with their next state, to ``m``.

        When ``holdable`` (writable weights), no bank starts issuing while ``held`` (a weight
        load); one already issuing finishes. Otherwise ``held`` is not wired in at all, so the
        netlist is the one without writable weights (a constant term still moved placement:
        an iCE40 build lost 5 MHz).
        """
        write_next, read_next = self.write_bank ^ self.fill, self.read_bank ^ self.drain
        full_next = Signal(2)
        filled = Mux(self.fill, Mux(self.write_bank, 0b10, 0b01), 0)
        # a bank being filled is never the one drained: the writer waits for an empty bank
        drained = Mux(self.drain, Mux(self.read_bank, 0b10, 0b01), 0)
        m.d.comb += full_next.eq((self.full | filled) & ~drained)
        issuing_next = full_next.bit_select(read_next, 1)
        if self.holdable:
            issuing_next &= (self.issuing & ~self.drain) | ~self.held
        m.d.sync += [self.full.eq(full_next), self.write_bank.eq(write_next),
                     self.read_bank.eq(read_next),
                     self.accepting.eq(~full_next.bit_select(write_next, 1)),
                     self.issuing.eq(issuing_next)]


def _stages(simd: int, options: HardwareOptions) -> tuple[int, int]:
    return dot_stages(simd, options.pipeline), int(options.pipelined)


def mvu_registers(simd: int, options: HardwareOptions) -> int:
    """Return the registers a vector passes in a matrix-vector unit of ``simd`` lanes besides
    its cycles: the issue and output registers, plus the dot product's and the result's when
    ``options`` pipeline the datapath."""
    return 2 + sum(_stages(simd, options))


def _delayed(m: Module, value, stages: int, enable: Value, name: str) -> list:
    """Return ``stages`` registers in a row after ``value`` (named ``name1``...), each loading
    while ``enable``."""
    chain = []
    for k in range(stages):
        register = Signal.like(value, name=f"{name}{k + 1}")
        with m.If(enable):
            m.d.sync += register.eq(value)
        chain.append(register)
        value = register
    return chain


class MatrixVectorUnit(wiring.Component):
    """One folded dense layer with a streamed input and output.

    Parameters
    ----------
    layer : LoweredDense
        The layer's constants, dot kind and output stage (from
        :meth:`~qnnforge.hw.compiler.layers.dense.DenseHardware.lower`).
    pe : int
        Output channels computed in parallel; must divide ``layer.fan_out``.
    simd : int
        Input elements consumed per cycle, 1..``layer.fan_in`` (need not divide it).
    in_lanes : int
        Elements per input beat; must divide ``layer.fan_in``.
    options : HardwareOptions
        DSP use of fixed-point multipliers and the popcount architecture of XNOR lanes.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(input_shape, in_lanes)))
        Input vectors, ``fan_in / in_lanes`` beats each, element 0 in the first beat's lane 0.
    o_stream : Out(stream.Signature(ArrayLayout(output_shape, pe)))
        Output vectors, ``fan_out / pe`` beats each, in channel order.
    w_stream : In(stream.Signature(unsigned(simd * weight_width)))
        Only with ``options.writable_weights``: new weights, :meth:`weight_beats` of them, one
        PE's SIMD codes of one step a beat. A load is taken between vectors: it waits for the
        vector being issued, and no vector is issued until its last beat, so every vector
        sees the old weights or the new ones, never a mix.

    Raises
    ------
    TypeError
        If ``pe``, ``simd`` or ``in_lanes`` is not a positive integer.
    ValueError
        If ``pe`` does not divide ``fan_out``, ``simd`` exceeds ``fan_in`` or ``in_lanes`` does
        not divide ``fan_in``.
    """

    def __init__(self, layer: LoweredDense, *, pe: int, simd: int, in_lanes: int,
                 options: HardwareOptions = HardwareOptions()):
        for name, value in (("PE", pe), ("SIMD", simd), ("in_lanes", in_lanes)):
            positive_int(name, value)
        if layer.fan_out % pe:
            raise ValueError(f"PE must be a positive integer dividing {layer.fan_out} "
                             f"(layer {layer.name!r}), not {pe}")
        if simd > layer.fan_in:
            raise ValueError(f"SIMD must not exceed the fan-in {layer.fan_in} "
                             f"(layer {layer.name!r}), not {simd}")
        if layer.fan_in % in_lanes:
            raise ValueError(f"in_lanes must divide the fan-in {layer.fan_in} "
                             f"(layer {layer.name!r}), not {in_lanes}")
        self._layer = layer
        self._pe = pe
        self._simd = simd
        self._in_lanes = in_lanes
        self._packing = _Packing(layer.fan_in, simd, in_lanes)
        if not isinstance(options, HardwareOptions):
            raise TypeError(f"options must be a HardwareOptions, not {options!r}")
        self._options = options
        members = {
            "i_stream": In(stream.Signature(data.ArrayLayout(layer.input_shape, in_lanes))),
            "o_stream": Out(stream.Signature(data.ArrayLayout(layer.output_shape, pe))),
        }
        if options.writable_weights:
            members["w_stream"] = In(stream.Signature(unsigned(simd * self.weight_width)))
        super().__init__(members)

    @property
    def layer(self) -> LoweredDense:
        return self._layer

    @property
    def pe(self) -> int:
        return self._pe

    @property
    def simd(self) -> int:
        return self._simd

    @property
    def in_lanes(self) -> int:
        return self._in_lanes

    @property
    def synapse_folds(self) -> int:
        """``SF``: cycles to consume one input vector per group of PE outputs."""
        return math.ceil(self._layer.fan_in / self._simd)

    @property
    def neuron_folds(self) -> int:
        """``NF``: groups of PE outputs per vector."""
        return self._layer.fan_out // self._pe

    @property
    def stages(self) -> tuple[int, int]:
        """``(dot, finish)``: registers of the staged dot product
        (:func:`~qnnforge.hw.cores.staged_dot.dot_stages`) and before the output stage (1 when
        pipelined), both beyond the issue and output registers; see :func:`mvu_registers`."""
        return _stages(self._simd, self._options)

    @property
    def cycles_per_vector(self) -> int:
        """Steady-state cycles per input vector: ``NF * SF``."""
        return layer_cycles(self._layer.fan_in, self._layer.fan_out, self._pe, self._simd)

    # --- constant memories -----------------------------------------------------------------

    @property
    def weight_width(self) -> int:
        """Bits of one weight code."""
        return self._layer.weight_shape.width

    def weight_words(self) -> list[int]:
        """Return the weight memory contents, one ``PE * SIMD * width``-bit word per step.

        Code ``p * SIMD + s`` (bits ``width`` wide) of word ``nf * SF + sf`` is the weight code of
        output channel ``nf * PE + p`` and input ``sf * SIMD + s``; padding inputs get the
        neutral code.
        """
        return self._words(self._layer.weight_codes)

    @property
    def load_beats(self) -> int:
        """Beats of a weight load (:meth:`weight_beats`): ``PE`` per step, ``NF * SF`` steps."""
        return self._pe * self.neuron_folds * self.synapse_folds

    def weight_beats(self, layer: LoweredDense) -> list[int]:
        """Return the ``w_stream`` beats that load the weights of ``layer`` (lowered like this
        unit's layer, and differing from it in its weight codes only): for each step, one beat
        per PE, PE 0 first, each that PE's ``SIMD`` codes of the step's word.

        Raises
        ------
        ValueError
            If ``layer`` differs from this unit's layer in anything but its weights: its name,
            shapes, dot kind (a TTQ or codebook table included) or output constants
            (thresholds, requantization, score offsets), which the hardware holds as constants.
        """
        own = self._layer
        shapes = ("name", "fan_in", "fan_out", "input_shape", "weight_shape", "acc_shape")
        for field in shapes:
            if getattr(layer, field) != getattr(own, field):
                raise ValueError(f"layer {own.name!r}: the loaded layer's {field} is "
                                 f"{getattr(layer, field)!r}, not {getattr(own, field)!r}")
        # a table kind (TTQ, codebook) is equal only with the same table, which is built in
        if layer.dot != own.dot or type(layer.output) is not type(own.output):
            raise ValueError(f"layer {own.name!r}: the loaded layer's dot product (or its "
                             f"weight table) or output stage differs from the built one")
        other = MatrixVectorUnit(layer, pe=self._pe, simd=self._simd, in_lanes=self._in_lanes)
        if other.output_words() != self.output_words():
            raise ValueError(f"layer {own.name!r}: the loaded layer's output constants differ "
                             f"from the built ones; only weights can be loaded")
        bits = self._simd * self.weight_width
        mask = (1 << bits) - 1
        return [(word >> (p * bits)) & mask
                for word in self._words(layer.weight_codes) for p in range(self._pe)]

    def _words(self, weight_codes: np.ndarray) -> list[int]:
        layer, pe, simd = self._layer, self._pe, self._simd
        width = self.weight_width
        padded_in = self.synapse_folds * simd
        codes = np.full((layer.fan_out, padded_in), layer.dot.neutral_code, dtype=np.int64)
        codes[:, :layer.fan_in] = weight_codes
        # (NF, PE, SF, SIMD) -> (NF, SF, PE, SIMD) -> one word per (nf, sf)
        blocks = codes.reshape(self.neuron_folds, pe, self.synapse_folds, simd)
        blocks = blocks.transpose(0, 2, 1, 3).reshape(-1, pe * simd)
        weights = 1 << (width * np.arange(pe * simd, dtype=object))
        return [int(np.dot(row.astype(object), weights)) for row in blocks]

    def _output_layout(self) -> data.ArrayLayout:
        return data.ArrayLayout(self._layer.output.constant_layout(), self._pe)

    def output_words(self) -> list:
        """Return the per-fold output constants of ``PE`` channels, one word per fold."""
        pe = self._pe
        stage = self._layer.output
        return [[stage.channel_constant(c) for c in range(nf * pe, (nf + 1) * pe)]
                for nf in range(self.neuron_folds)]

    # --- elaboration -----------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        layer, pe, simd = self._layer, self._pe, self._simd
        sf_count, nf_count = self.synapse_folds, self.neuron_folds

        # Input buffer: C column memories, each holding the rows of both banks.
        packing = self._packing
        banks = _Banks(holdable=self._options.writable_weights)
        word_layout = data.ArrayLayout(layer.input_shape, simd)
        buffers = []
        for c in range(packing.columns):
            m.submodules[f"buffer{c}"] = buffer = Memory(
                shape=word_layout, depth=2 * packing.rows, init=[])
            buffers.append(buffer)
        self._buffer_writer(m, buffers, banks)

        # Issue stage: walk (nf, sf) over the full bank; read the input word, weights and
        # output constants by address on the same cycle, so their data arrive together.
        o = self.o_stream
        advance = Signal()
        m.d.comb += advance.eq(~o.valid | o.ready)
        sf = Signal(index_shape(sf_count))
        nf = Signal(index_shape(nf_count))
        step = Signal(index_shape(nf_count * sf_count))
        column = Signal(index_shape(packing.columns))
        row = Signal(range(2 * packing.rows))
        weight_depth = memory_depth(nf_count * sf_count)
        m.submodules.weights = weights = Memory(
            shape=unsigned(pe * simd * self.weight_width), depth=weight_depth,
            init=self.weight_words(), attrs=self._options.weight_memory_attrs(weight_depth))
        m.submodules.constants = constants = Memory(
            shape=self._output_layout(), depth=memory_depth(nf_count),
            init=self.output_words(), attrs=self._constant_attrs())
        weight_port = weights.read_port()
        constant_port = constants.read_port()
        buffer_ports = [buffer.read_port() for buffer in buffers]
        weight_address = (self._weight_writer(m, weights, banks, step)
                          if self._options.writable_weights else step)
        m.d.comb += [weight_port.addr.eq(weight_address), weight_port.en.eq(advance),
                     constant_port.en.eq(advance)]
        for port in buffer_ports:
            m.d.comb += [port.addr.eq(row), port.en.eq(advance)]

        # Stage 1 registers (aligned with the memory read data).
        tag = Signal(self._tag_layout())
        word_column = Signal.like(column)
        banks.add_registers(m)
        with m.If(advance):
            m.d.sync += tag.busy.eq(banks.issuing)
            with m.If(banks.issuing):
                m.d.sync += [word_column.eq(column), tag.nf.eq(nf),
                             tag.first.eq(sf == 0), tag.last.eq(sf == sf_count - 1)]
                self._step_counters(m, sf, nf, step, banks, column, row)
        x_word = Signal(word_layout)
        with m.Switch(word_column):
            for c, port in enumerate(buffer_ports):
                with m.Case(c) if packing.columns > 1 else m.Default():
                    m.d.comb += x_word.eq(port.data)

        # Stage 1 + dot stages: the accumulators; their results go to the output register, or
        # first to a result register when the unit is pipelined (see `stages`).
        dot_stages, finish_stages = self.stages
        tags = [tag] + _delayed(m, tag, dot_stages + finish_stages, advance, "tag")
        accumulating = tags[dot_stages]
        # the constants of a fold are read one cycle before its output stage needs them
        m.d.comb += constant_port.addr.eq(nf if len(tags) == 1 else tags[-2].nf)
        constant_words = constant_port.data
        results = []
        for p in range(pe):
            w_word = weight_port.data.word_select(p, simd * self.weight_width)
            contribution = self._dot_unit(m, p, x_word, w_word, advance)
            # data registers: `first` starts every sum and the tags say which are valid
            acc = Signal(layer.acc_shape, name=f"acc{p}", reset_less=True)
            total = Signal(layer.acc_shape, name=f"total{p}")
            m.d.comb += total.eq(Mux(accumulating.first, 0, acc) + contribution)
            with m.If(advance & accumulating.busy):
                m.d.sync += acc.eq(total)
            if finish_stages:
                result = Signal(layer.acc_shape, name=f"result{p}", reset_less=True)
                with m.If(advance & accumulating.busy & accumulating.last):
                    m.d.sync += result.eq(total)
                total = result
            results.append(layer.output.finish(m, str(p), total, constant_words[p],
                                               self._options))
        with m.If(advance & tags[-1].busy & tags[-1].last):
            m.d.sync += [o.valid.eq(1), o.payload.eq(Cat(*results))]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        return m

    def _step_counters(self, m, sf, nf, step, banks, column, row):
        sf_count, nf_count = self.synapse_folds, self.neuron_folds
        rows, columns = self._packing.rows, self._packing.columns
        with m.If(sf == sf_count - 1):
            m.d.sync += [sf.eq(0), column.eq(0)]
            with m.If(nf == nf_count - 1):
                m.d.comb += banks.drain.eq(1)
                m.d.sync += [nf.eq(0), step.eq(0), row.eq(Mux(banks.read_bank, 0, rows))]
            with m.Else():
                m.d.sync += [nf.eq(nf + 1), step.eq(step + 1),
                             row.eq(Mux(banks.read_bank, rows, 0))]
        with m.Else():
            m.d.sync += [sf.eq(sf + 1), step.eq(step + 1)]
            with m.If(column == columns - 1):
                m.d.sync += [column.eq(0), row.eq(row + 1)]
            with m.Else():
                m.d.sync += column.eq(column + 1)

    def _buffer_writer(self, m, buffers, banks):
        """Write each accepted beat into the buffer bank that is filling, one beat a cycle.

        A beat starting at ``position`` of row ``row`` (an address: bank base + row) writes, per
        column, the lanes the packing gives it under a lane mask, at ``row`` or, for the part
        past the row's end, ``row + 1``. The last beat of a vector marks its bank full and moves
        to the first row of the other bank.
        """
        packing, in_lanes = self._packing, self._in_lanes
        beats = self._layer.fan_in // in_lanes
        i = self.i_stream
        write_bank = banks.write_bank
        write_beat = Signal(index_shape(beats))
        position = Signal(index_shape(packing.row_lanes))
        row = Signal(range(2 * packing.rows))
        write = Signal()
        m.d.comb += [i.ready.eq(banks.accepting), write.eq(i.valid & i.ready)]

        # The next beat starts `in_lanes` further on, past the row's end in the next row (a row
        # holds at least a beat, so it wraps at most once): an addition, not a table of the
        # positions, whose decoder would lie between the stream's handshake and `position`.
        # (a beat as wide as a row always wraps: no comparison with 0, which lint flags)
        wraps = (position >= packing.row_lanes - in_lanes if packing.row_lanes > in_lanes
                 else Const(1, 1))
        if self.collects_words:
            self._word_writer(m, buffers[0], row, wraps, write)
        else:
            self._lane_writer(m, buffers, row, position, write)
        with m.If(write):
            with m.If(write_beat == beats - 1):
                m.d.comb += banks.fill.eq(1)
                m.d.sync += [write_beat.eq(0), position.eq(0),
                             row.eq(Mux(write_bank, 0, packing.rows))]
            with m.Else():
                m.d.sync += [write_beat.eq(write_beat + 1), row.eq(row + wraps),
                             position.eq(Mux(wraps, position + (in_lanes - packing.row_lanes),
                                             position + in_lanes))]

    def _lane_writer(self, m, buffers, row, position, write):
        """Write each beat's lanes into the columns under a lane mask (see ``_buffer_writer``)."""
        packing, i = self._packing, self.i_stream
        ports = [buffer.write_port(granularity=packing.granularity) for buffer in buffers]
        masks = [Signal(len(port.en), name=f"mask{c}") for c, port in enumerate(ports)]
        wrapped = [Signal(name=f"wrapped{c}") for c in range(packing.columns)]
        for port, mask, wrap in zip(ports, masks, wrapped):
            m.d.comb += [port.addr.eq(row + wrap), port.en.eq(Mux(write, mask, 0))]
        # a lane fed by the same beat lane at every position needs no multiplexer
        sources = packing.sources()
        for (c, lane), beat_lanes in sources.items():
            if len(beat_lanes) == 1:
                m.d.comb += ports[c].data[lane].eq(i.payload[next(iter(beat_lanes))])
        g = packing.granularity
        with m.Switch(position):
            for p, pieces in packing.pieces.items():
                with m.Case(p) if len(packing.positions) > 1 else m.Default():
                    # every mask whole in every case: a bit no case sets is still driven
                    lanes = [0] * packing.columns
                    for piece in pieces:
                        port = ports[piece.column]
                        start, stop = piece.lane // g, (piece.lane + piece.count) // g
                        lanes[piece.column] |= ((1 << (stop - start)) - 1) << start
                        m.d.comb += wrapped[piece.column].eq(piece.wrapped)
                        for k in range(piece.count):
                            if len(sources[piece.column, piece.lane + k]) > 1:
                                m.d.comb += port.data[piece.lane + k].eq(
                                    i.payload[piece.beat_lane + k])
                    m.d.comb += [mask.eq(value) for mask, value in zip(masks, lanes)]

    @property
    def collects_words(self) -> bool:
        """Whether the input buffer is written a whole word at a time from a collecting register
        (:attr:`~..compiler.options.HardwareOptions.whole_word_writes`): where beats are
        narrower than SIMD and fill each word exactly (one column, no padding)."""
        packing = self._packing
        return (self._options.whole_word_writes and packing.columns == 1
                and self._in_lanes < self._simd and self._layer.fan_in % self._simd == 0)

    def _word_writer(self, m, buffer, row, ends_row, write):
        """Collect a row's beats in a shift register and write the row whole with its last beat.

        A row is one SIMD word here, filled by ``SIMD / in_lanes`` beats in order: each beat
        shifts into the top of ``earlier`` (the row's beats but its last), so the row's last
        beat finds the others below it and ``Cat(earlier, payload)`` is the word. No lane is
        decoded or multiplexed: the register's enable is the stream's handshake.
        """
        i = self.i_stream
        port = buffer.write_port()
        beat_bits = len(i.payload.as_value())
        earlier = Signal(len(port.data.as_value()) - beat_bits, name="earlier", reset_less=True)
        word = Cat(earlier, i.payload.as_value())
        m.d.comb += [port.addr.eq(row), port.data.eq(word), port.en.eq(write & ends_row)]
        with m.If(write):
            m.d.sync += earlier.eq(word[beat_bits:])

    def _weight_writer(self, m, weights, banks, step) -> Value:
        """Write ``w_stream``'s beats into the weight memory between vectors; return the address
        its read port and write port share.

        A beat is taken while no bank is issuing; a waiting beat (``valid``) or a load begun
        (``loading``) holds the banks back from starting the next vector. Beat ``p`` of a step
        writes PE ``p``'s lanes of the step's word, under the write enable of that PE (a
        one-hot pointer). The memory is read only while a bank is issuing, so the write and
        the read share one address: the step being issued, or else the step being loaded. On
        xc7 LUT RAM that is one port of RAM32M, which then holds 8 bits a cell, not 6.
        """
        w, pe = self.w_stream, self._pe
        steps = self.neuron_folds * self.synapse_folds
        port = weights.write_port(granularity=self._simd * self.weight_width)
        pointer = Signal(pe, init=1)
        load_step = Signal.like(step, name="load_step")
        loading, accept, last = Signal(), Signal(), Signal()
        address = Signal.like(step, name="weight_address")
        m.d.comb += [w.ready.eq(~banks.issuing), accept.eq(w.valid & w.ready),
                     last.eq(pointer[-1] & (load_step == steps - 1)),
                     banks.held.eq(w.valid | loading),
                     address.eq(Mux(banks.issuing, step, load_step)),
                     port.addr.eq(address), port.data.eq(Cat(*[w.payload] * pe)),
                     port.en.eq(Mux(accept, pointer, 0))]
        with m.If(accept):
            m.d.sync += [pointer.eq(pointer.rotate_left(1)), loading.eq(~last)]
            with m.If(pointer[-1]):
                m.d.sync += load_step.eq(Mux(last, 0, load_step + 1))
        return address

    def _dot_unit(self, m, p, x_word, w_bits, advance):
        layer, options = self._layer, self._options

        def build(lanes):
            return layer.dot.build(lanes, layer.input_shape, layer.weight_shape, options)

        if options.pipelined:
            unit = StagedDot(build, self._simd, layer.input_shape.width, self.weight_width,
                             options.pipeline)
            m.d.comb += unit.en.eq(advance)
            result = unit.sum
        else:
            unit, result = build(self._simd)
        m.submodules[f"dot{p}"] = unit
        m.d.comb += [unit.x.eq(x_word), unit.w.eq(w_bits)]
        return result

    def _constant_attrs(self) -> dict | None:
        """Ask synthesis for a block RAM for the output constants of a pipelined unit with more
        than :data:`LOGIC_ROM_WORDS` folds: Yosys would build so small a ROM from LUTs (its
        constant bits removed), a multiplexer deeper than the pipeline's stages."""
        if self._options.pipelined and self.neuron_folds > LOGIC_ROM_WORDS:
            return {"rom_style": "block"}
        return None

    def _tag_layout(self) -> data.StructLayout:
        """What travels beside a step's data down the pipeline: whether it is a step, the first
        or last of its fold, and the fold (to read its output constants)."""
        return data.StructLayout({"busy": 1, "first": 1, "last": 1,
                                  "nf": index_shape(self.neuron_folds)})
