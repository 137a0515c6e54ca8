"""Matrix-vector unit: a dense layer folded FINN-style onto PE x SIMD lanes.

Every cycle the unit multiplies ``SIMD`` input elements by the matching weights of ``PE`` output
channels. An input vector of ``K`` elements takes ``SF = ceil(K / SIMD)`` cycles per group of
``PE`` outputs and there are ``NF = N / PE`` groups, so one vector costs ``NF * SF`` cycles.
Output channel ``c`` is computed by PE ``c % PE`` in fold ``c // PE``; the weight memory holds one
``PE x SIMD`` word per (fold, step) in that order.

Structure::

    i_stream -> [input buffer, 2 banks] -> issue (nf, sf) -> [weights, thresholds: Memory]
             -> PE dot units -> accumulators -> threshold / score -> o_stream (PE elements)

* The input buffer collects whole vectors from beats of ``in_lanes`` elements. It has two banks,
  so the next vector streams in while the current one is being reused ``NF`` times; in steady
  state the unit is busy every cycle.
* When ``SIMD`` does not divide ``K``, the last step reads ``K mod SIMD`` real lanes. The padding
  lanes are never written, so they hold input code 0, and their weight codes are chosen to make
  them contribute nothing: weight code 1 for XNOR (0 XNOR 1 = 0, not counted), code 0 for every
  other dot kind (their inputs are fixed-point, so code 0 is the value 0).
* Every precision uses the same folding and streams; only the per-lane dot unit (XNOR-popcount,
  add/subtract, ternary add/subtract/skip, fixed-point multiplier) and the output stage
  (threshold, multi-threshold, requantizer, score) differ. The unit asks the layer's dot kind
  (:mod:`~qnnforge.hw.compiler.dots`) and output stage (:mod:`~qnnforge.hw.compiler.outputs`)
  for them. The output constants of each fold (bounds and flips, requantization parameters or
  score offsets) sit in a second memory, in the layout the stage gives.
* Backpressure: the whole compute pipeline advances only when the output register is empty or
  being emptied (``advance = ~o.valid | o.ready``), so a stalled consumer never loses a result.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..compiler.folding import layer_cycles
from ..compiler.options import HardwareOptions
from .params import positive_int

if TYPE_CHECKING:
    from ..compiler.layers.dense import LoweredDense

__all__ = ["MatrixVectorUnit"]


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
        if not isinstance(options, HardwareOptions):
            raise TypeError(f"options must be a HardwareOptions, not {options!r}")
        self._options = options
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(layer.input_shape, in_lanes))),
            "o_stream": Out(stream.Signature(data.ArrayLayout(layer.output_shape, pe))),
        })

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
        layer, pe, simd = self._layer, self._pe, self._simd
        width = self.weight_width
        padded_in = self.synapse_folds * simd
        codes = np.full((layer.fan_out, padded_in), layer.dot.neutral_code, dtype=np.int64)
        codes[:, :layer.fan_in] = layer.weight_codes
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
        element_width = layer.input_shape.width

        # Input buffer: two banks of the padded input vector, filled beat by beat.
        beats = layer.fan_in // self._in_lanes
        banks = [Signal(sf_count * simd * element_width, name=f"bank{b}") for b in range(2)]
        full = Signal(2)
        write_bank = Signal()
        write_beat = Signal(range(beats))
        i = self.i_stream
        m.d.comb += i.ready.eq(~full.bit_select(write_bank, 1))
        with m.If(i.valid & i.ready):
            for b, bank in enumerate(banks):
                with m.If(write_bank == b):
                    m.d.sync += bank.word_select(
                        write_beat, self._in_lanes * element_width).eq(i.payload.as_value())
            with m.If(write_beat == beats - 1):
                m.d.sync += [write_beat.eq(0), write_bank.eq(~write_bank)]
                m.d.sync += full.bit_select(write_bank, 1).eq(1)
            with m.Else():
                m.d.sync += write_beat.eq(write_beat + 1)

        # Issue stage: walk (nf, sf) over the full bank; read weights and output constants.
        o = self.o_stream
        advance = Signal()
        m.d.comb += advance.eq(~o.valid | o.ready)
        read_bank = Signal()
        sf = Signal(range(sf_count))
        nf = Signal(range(nf_count))
        step = Signal(range(nf_count * sf_count))
        m.submodules.weights = weights = Memory(
            shape=unsigned(pe * simd * self.weight_width), depth=nf_count * sf_count, init=self.weight_words())
        m.submodules.constants = constants = Memory(
            shape=self._output_layout(), depth=nf_count, init=self.output_words())
        weight_port = weights.read_port()
        constant_port = constants.read_port()
        m.d.comb += [weight_port.addr.eq(step), weight_port.en.eq(advance),
                     constant_port.addr.eq(nf), constant_port.en.eq(advance)]

        # Stage 1 registers (aligned with the memory read data).
        x_word = Signal(data.ArrayLayout(layer.input_shape, simd))
        busy, first, last = Signal(), Signal(), Signal()
        issuing = Signal()
        m.d.comb += issuing.eq(full.bit_select(read_bank, 1))
        with m.If(advance):
            m.d.sync += busy.eq(issuing)
            with m.If(issuing):
                bank = Mux(read_bank, banks[1], banks[0])
                m.d.sync += [x_word.eq(bank.word_select(sf, simd * element_width)),
                             first.eq(sf == 0), last.eq(sf == sf_count - 1)]
                self._step_counters(m, sf, nf, step, read_bank, full)

        # Stage 1: PE dot units and accumulators; results go to the output register.
        constant_words = constant_port.data
        results = []
        for p in range(pe):
            w_word = weight_port.data.word_select(p, simd * self.weight_width)
            contribution = self._dot_unit(m, p, x_word, w_word)
            acc = Signal(layer.acc_shape, name=f"acc{p}")
            total = Signal(layer.acc_shape, name=f"total{p}")
            m.d.comb += total.eq(Mux(first, 0, acc) + contribution)
            with m.If(advance & busy):
                m.d.sync += acc.eq(total)
            results.append(layer.output.finish(m, str(p), total, constant_words[p],
                                               self._options))
        with m.If(advance & busy & last):
            m.d.sync += [o.valid.eq(1), o.payload.eq(Cat(*results))]
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)
        return m

    def _step_counters(self, m, sf, nf, step, read_bank, full):
        sf_count, nf_count = self.synapse_folds, self.neuron_folds
        with m.If(sf == sf_count - 1):
            m.d.sync += sf.eq(0)
            with m.If(nf == nf_count - 1):
                m.d.sync += [nf.eq(0), step.eq(0), read_bank.eq(~read_bank),
                             full.bit_select(read_bank, 1).eq(0)]
            with m.Else():
                m.d.sync += [nf.eq(nf + 1), step.eq(step + 1)]
        with m.Else():
            m.d.sync += [sf.eq(sf + 1), step.eq(step + 1)]

    def _dot_unit(self, m, p, x_word, w_bits):
        layer = self._layer
        unit, result = layer.dot.build(self._simd, layer.input_shape, layer.weight_shape,
                                       self._options)
        m.submodules[f"dot{p}"] = unit
        m.d.comb += [unit.x.eq(x_word), unit.w.eq(w_bits)]
        return result
