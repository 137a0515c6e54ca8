"""Every arithmetic core equals its integer specification for all inputs, proven by Yosys.

Each test is a proof over every input of one parameter set (``sat`` finds a counterexample or
there is none), so the grids below choose parameter sets, never values. The grid keeps the whole
file near 40 s on one core; bench/formal.py proves a larger one. The canaries at the end prove
deliberately broken cores and assert the proof fails with the counterexample error, so no
proof here can pass vacuously.
"""

import inspect
import random
import re
import sys
import types

import numpy as np
import pytest
from amaranth.hdl import Module, Mux, Shape, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.cores import mvu as mvu_module
from qnnforge.hw.cores import sliding_window as window_module
from qnnforge.hw.cores.argmax import Argmax
from qnnforge.hw.cores.binary_weight_dot import BinaryWeightDot
from qnnforge.hw.cores.codebook_dot import CodebookDot, CodebookSumDot
from qnnforge.hw.cores.fixed_dot import FixedDot, FixedMultiplier
from qnnforge.hw.cores.multithreshold import MultiThreshold
from qnnforge.hw.cores.popcount import Popcount
from qnnforge.hw.cores.requantizer import Requantizer
from qnnforge.hw.cores import skid_buffer as skid_module
from qnnforge.hw.cores.skid_buffer import SkidBuffer
from qnnforge.hw.cores.ternary_dot import TernaryDot
from qnnforge.hw.cores.threshold import Threshold
from qnnforge.hw.cores.ttq_dot import TTQDot
from qnnforge.hw.cores.xnor_dot import XnorDot
from qnnforge.hw.explore.xnor_popcount import xnor_unit
from qnnforge.hw.tools.toolchain import ToolMissingError
from qnnforge.sim import formal
from qnnforge.sim.formal import (EquivalenceError, Specification, prove, prove_argmax_stream,
                                 prove_stream)
from qnnforge.sw.encoding import BIPOLAR, sint, uint
from qnnforge.sw.errors import VerificationError

from ..hw.layers import mixed_layer, random_layer

SHAPES = [unsigned(bits) for bits in range(1, 5)] + [signed(bits) for bits in range(1, 5)]
"""Operand shapes: 1 to 4 bits, unsigned and signed."""


def _name(shape) -> str:
    shape = Shape.cast(shape)
    return f"{'s' if shape.signed else 'u'}{shape.width}"


def _proved(proof: formal.Proof, core: str) -> None:
    assert proof.proved and proof.core == core
    assert proof.log_tail.endswith("SAT proof finished - no model found: SUCCESS!")


# --- Popcounts and XNOR dot products ------------------------------------------------------------

@pytest.mark.parametrize("width", range(1, 17))
def test_popcount(width):
    name = f"Popcount({width})"
    _proved(prove(Popcount(width), formal.popcount_spec, name=name), name)


@pytest.mark.parametrize("lut_inputs", [4, 6])
@pytest.mark.parametrize("lanes", range(1, 17))
def test_xnor_dot_compressor(lanes, lut_inputs):
    name = f"XnorDot({lanes}, popcount='compressor', lut_inputs={lut_inputs})"
    core = XnorDot(lanes, popcount="compressor", lut_inputs=lut_inputs)
    _proved(prove(core, formal.xnor_dot_spec, name=name), name)


@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 5, 7, 8, 9, 12, 16])
def test_xnor_dot_adder_tree(lanes):
    name = f"XnorDot({lanes}, popcount='adder_tree')"
    _proved(prove(XnorDot(lanes), formal.xnor_dot_spec, name=name), name)


def _weights(lanes: int, pattern: str) -> list[int]:
    if pattern == "random":
        return [random.Random(lanes).randrange(2) for _ in range(lanes)]
    return {"ones": [1] * lanes, "zeros": [0] * lanes,
            "alternating": [lane % 2 for lane in range(lanes)]}[pattern]


@pytest.mark.parametrize("lut_inputs", [4, 6])
@pytest.mark.parametrize("lanes, pattern", [
    *((lanes, pattern) for lanes in (1, 4, 7, 12)
      for pattern in ("ones", "zeros", "alternating", "random")),
    (16, "random"),
])
def test_constant_xnor_popcount(lanes, pattern, lut_inputs):
    weights = _weights(lanes, pattern)
    name = f"xnor_unit({lanes}, 'constant', lut_inputs={lut_inputs}, weights={weights})"
    core = xnor_unit(lanes, "constant", lut_inputs=lut_inputs, weights=weights)
    _proved(prove(core, formal.constant_xnor_spec(weights), name=name), name)


@pytest.mark.parametrize("architecture", ["adder_tree", "compressor"])
@pytest.mark.parametrize("lanes", [3, 16])
def test_explorer_combinational_popcounts(lanes, architecture):
    name = f"xnor_unit({lanes}, {architecture!r})"
    core = xnor_unit(lanes, architecture, lut_inputs=4)
    _proved(prove(core, formal.xnor_dot_spec, name=name), name)


@pytest.mark.parametrize("register_every", [1, 2])
@pytest.mark.parametrize("lanes", [1, 2, 5, 8, 16])
def test_pipelined_popcount(lanes, register_every):
    core = xnor_unit(lanes, "pipelined", register_every=register_every)
    name = f"xnor_unit({lanes}, 'pipelined', register_every={register_every})"
    proof = prove(core, formal.xnor_dot_spec, name=name, latency=core.latency)
    _proved(proof, name)
    assert proof.steps == core.latency + 1


# --- Dot products with multi-bit activations ----------------------------------------------------

# 8 lanes of 2-bit operands take 15-25 s each since the dots add their carries in the tree:
# bench/formal.py proves them (and wider ones) instead.
DOT_GRID = [*((lanes, shape) for lanes in (1, 2, 3, 4) for shape in SHAPES),
            *((8, shape) for shape in (unsigned(1), signed(1)))]


@pytest.mark.parametrize("lanes, x_shape", DOT_GRID, ids=[f"{l}-{_name(s)}" for l, s in DOT_GRID])
def test_binary_weight_dot(lanes, x_shape):
    name = f"BinaryWeightDot({lanes}, {x_shape})"
    _proved(prove(BinaryWeightDot(lanes, x_shape), formal.binary_weight_dot_spec, name=name),
            name)


@pytest.mark.parametrize("lanes, x_shape", DOT_GRID, ids=[f"{l}-{_name(s)}" for l, s in DOT_GRID])
def test_ternary_dot(lanes, x_shape):
    name = f"TernaryDot({lanes}, {x_shape})"
    _proved(prove(TernaryDot(lanes, x_shape), formal.ternary_dot_spec, name=name), name)


@pytest.mark.parametrize("dsp", [True, False])
@pytest.mark.parametrize("w_shape", SHAPES, ids=_name)
@pytest.mark.parametrize("x_shape", SHAPES, ids=_name)
def test_fixed_multiplier(x_shape, w_shape, dsp):
    name = f"FixedMultiplier({x_shape}, {w_shape}, dsp={dsp})"
    core = FixedMultiplier(x_shape, w_shape, dsp=dsp)
    _proved(prove(core, formal.fixed_multiplier_spec, name=name), name)


FIXED_DOT_GRID = [*((lanes, x, w) for lanes in (1, 2)
                    for x, w in ((unsigned(4), signed(4)), (signed(4), signed(4)),
                                 (unsigned(4), unsigned(4)), (signed(4), unsigned(4)))),
                  *((lanes, x, w) for lanes in (3, 4)
                    for x, w in ((unsigned(3), signed(3)), (signed(3), signed(3)),
                                 (signed(2), unsigned(3))))]


@pytest.mark.parametrize("dsp", [True, False])
@pytest.mark.parametrize("lanes, x_shape, w_shape", FIXED_DOT_GRID,
                         ids=[f"{l}-{_name(x)}-{_name(w)}" for l, x, w in FIXED_DOT_GRID])
def test_fixed_dot(lanes, x_shape, w_shape, dsp):
    name = f"FixedDot({lanes}, {x_shape}, {w_shape}, dsp={dsp})"
    core = FixedDot(lanes, x_shape, w_shape, dsp=dsp)
    _proved(prove(core, formal.fixed_dot_spec, name=name), name)


TTQ_GRID = [(1, unsigned(4), 15, 1), (2, signed(3), 7, 12), (3, unsigned(2), 13, 13),
            (4, unsigned(3), 1, 9)]


@pytest.mark.parametrize("lanes, x_shape, positive, negative", TTQ_GRID,
                         ids=[f"{l}-{_name(s)}-{p}-{n}" for l, s, p, n in TTQ_GRID])
def test_ttq_dot(lanes, x_shape, positive, negative):
    name = f"TTQDot({lanes}, {x_shape}, {positive}, {negative})"
    core = TTQDot(lanes, x_shape, positive, negative)
    _proved(prove(core, formal.ttq_dot_spec(positive, negative), name=name), name)


CODEBOOK_GRID = [(1, unsigned(4), 2, (-127, -3, 0, 90)), (2, signed(3), 3, (-8, 5, 17, 100, 126)),
                 (3, unsigned(2), 2, (-20, 33, 127)), (2, unsigned(3), 4, tuple(range(-64, 64, 8)))]


@pytest.mark.parametrize("dsp", [True, False])
@pytest.mark.parametrize("lanes, x_shape, bits, values", CODEBOOK_GRID,
                         ids=[f"{l}-{_name(s)}-{b}-{len(v)}" for l, s, b, v in CODEBOOK_GRID])
def test_codebook_dot(lanes, x_shape, bits, values, dsp):
    name = f"CodebookDot({lanes}, {x_shape}, {bits}, {values}, dsp={dsp})"
    core = CodebookDot(lanes, x_shape, bits, values, dsp=dsp)
    _proved(prove(core, formal.codebook_dot_spec(values), name=name), name)


@pytest.mark.parametrize("lanes, x_shape, bits, values", CODEBOOK_GRID,
                         ids=[f"{l}-{_name(s)}-{b}-{len(v)}" for l, s, b, v in CODEBOOK_GRID])
def test_codebook_sum_dot(lanes, x_shape, bits, values):
    name = f"CodebookSumDot({lanes}, {x_shape}, {bits}, {values})"
    core = CodebookSumDot(lanes, x_shape, bits, values)
    _proved(prove(core, formal.codebook_dot_spec(values), name=name), name)


def test_canary_ttq_dot_with_swapped_scales_fails():
    with pytest.raises(EquivalenceError, match=r"^TTQDot\(1, unsigned\(2\), 3, 5\) swapped "
                                               r"differs from its specification"):
        prove(TTQDot(1, unsigned(2), 3, 5), formal.ttq_dot_spec(5, 3),
              name="TTQDot(1, unsigned(2), 3, 5) swapped")


# --- Output stages ------------------------------------------------------------------------------

@pytest.mark.parametrize("bound_shape", SHAPES, ids=_name)
@pytest.mark.parametrize("acc_shape", SHAPES, ids=_name)
def test_threshold(acc_shape, bound_shape):
    name = f"Threshold({acc_shape}, {bound_shape})"
    _proved(prove(Threshold(acc_shape, bound_shape), formal.threshold_spec, name=name), name)


@pytest.mark.parametrize("levels", [1, 3, 7])
@pytest.mark.parametrize("acc_shape, bound_shape", [(signed(4), signed(4)),
                                                    (unsigned(3), signed(4)),
                                                    (signed(3), unsigned(2))],
                         ids=["s4-s4", "u3-s4", "s3-u2"])
def test_multithreshold(acc_shape, bound_shape, levels):
    name = f"MultiThreshold({acc_shape}, {bound_shape}, {levels})"
    core = MultiThreshold(acc_shape, bound_shape, levels)
    _proved(prove(core, formal.multithreshold_spec, name=name), name)


def _prove_requantizer(acc, multiplier, offset, output, base, max_shift, dsp):
    name = (f"Requantizer({acc}, {multiplier}, {offset}, {output}, base={base}, "
            f"max_shift={max_shift}, dsp={dsp})")
    core = Requantizer(acc, multiplier, offset, output, base=base, max_shift=max_shift, dsp=dsp)
    _proved(prove(core, formal.requantizer_spec(base, output), name=name), name)


@pytest.mark.parametrize("max_shift", range(5))
@pytest.mark.parametrize("base", range(3))
def test_requantizer_shifts(base, max_shift):
    _prove_requantizer(signed(4), unsigned(3), signed(5), unsigned(4), base, max_shift, True)


@pytest.mark.parametrize("output", [unsigned(1), signed(1), unsigned(2), signed(3), signed(4)],
                         ids=_name)
@pytest.mark.parametrize("base, max_shift", [(0, 0), (1, 3)])
def test_requantizer_lut_multiplier(base, max_shift, output):
    _prove_requantizer(signed(4), signed(3), signed(5), output, base, max_shift, False)


@pytest.mark.parametrize("acc, multiplier, offset", [
    (unsigned(1), signed(1), signed(3)), (signed(3), unsigned(1), unsigned(3)),
    (unsigned(3), unsigned(3), unsigned(1)), (signed(2), signed(2), signed(2)),
], ids=["u1-s1-s3", "s3-u1-u3", "u3-u3-u1", "s2-s2-s2"])
def test_requantizer_operand_shapes(acc, multiplier, offset):
    _prove_requantizer(acc, multiplier, offset, signed(4), 1, 2, True)


# Found by this proof: the sum shifted + zero_point was sized from the accumulator alone and
# wrapped when the output is wider (acc=0, multiplier=0, offset=1, zero_point=15 gave y=0).
@pytest.mark.parametrize("offset", [unsigned(1), signed(1)], ids=_name)
def test_requantizer_output_wider_than_accumulator(offset):
    _prove_requantizer(unsigned(1), unsigned(1), offset, unsigned(4), 0, 0, True)


# --- Stream stages ------------------------------------------------------------------------------

@pytest.mark.parametrize("score_shape, classes, lanes, steps", [
    (signed(3), 2, 1, 8), (signed(3), 4, 2, 8), (unsigned(2), 3, 1, 9), (signed(2), 4, 4, 6),
], ids=["s3-2x1", "s3-4x2", "u2-3x1", "s2-4x4"])
def test_argmax_stream_contract(score_shape, classes, lanes, steps):
    name = f"Argmax({score_shape}, {classes}, {lanes})"
    proof = prove_argmax_stream(Argmax(score_shape, classes, lanes), name=name, steps=steps)
    _proved(proof, name)
    assert proof.steps == steps


# the registered tree: 4 lanes take 2 levels, 3 lanes 2 (one passes a level unpaired); 3 beats
# a vector (s2-3x1) reach the running maximum's `rest`, which 2 beats never compare with
@pytest.mark.parametrize("score_shape, classes, lanes, steps", [
    (signed(3), 4, 2, 9), (signed(2), 4, 4, 8), (unsigned(2), 3, 3, 8), (signed(3), 2, 1, 8),
    (signed(2), 3, 1, 9),
], ids=["s3-4x2", "s2-4x4", "u2-3x3", "s3-2x1", "s2-3x1"])
def test_pipelined_argmax_stream_contract(score_shape, classes, lanes, steps):
    core = Argmax(score_shape, classes, lanes, pipelined=True)
    name = f"Argmax({score_shape}, {classes}, {lanes}, pipelined)"
    proof = prove_argmax_stream(core, name=name, steps=steps, latency=core.latency)
    _proved(proof, name)


def test_canary_pipelined_argmax_checked_one_cycle_early_fails():
    core = Argmax(signed(2), 4, 4, pipelined=True)
    with pytest.raises(EquivalenceError, match=(
            r"^early argmax breaks its stream contract at step \d+ \(o.valid is high exactly "
            r"while a result is owed \(none lost, none duplicated\)\) after .*$")):
        prove_argmax_stream(core, name="early argmax", steps=6, latency=core.latency - 1)


# Bounded proofs of the MVU and the sliding window (sim/formal.py prove_stream): every input
# sequence of `steps` cycles from reset, payloads, valid and ready free. Depth covered: the
# unfolded MVUs (one beat a vector) see 3 or more vectors with their outputs; the folded 1x1
# MVU (4 input beats, 2 outputs of 4 cycles) sees its first vector out whole and the second
# taken in while the first is computed, which is where the two banks and the stall rule
# interact; the windows cover the first output rows of the first image (12 steps: up to 9
# input beats, 8 output beats). bench/formal.py runs deeper bounds (full images and vectors).

def _mvu(kind, pe, simd, in_lanes, fan_in=4, pipeline=0, module=mvu_module):
    rng = np.random.default_rng(fan_in * 10 + pe)
    if kind == "binary":
        layer = random_layer(rng, fan_in, 2, BIPOLAR, scores=False)
    elif kind == "binary-first":  # uint1 inputs on XNOR lanes, a padding lane (SIMD 3 of 4)
        layer = random_layer(rng, fan_in, 2, uint(1), scores=False)
    else:
        layer = mixed_layer(rng, fan_in, 2, uint(2), sint(2), "scores")
    unit = module.MatrixVectorUnit(lower_layer(layer), pe=pe, simd=simd, in_lanes=in_lanes,
                                   options=HardwareOptions(pipeline=pipeline))
    return unit, layer


MVU_STREAMS = [("binary", 4, 2, 4, 4, 10), ("binary", 4, 1, 1, 1, 16),
               ("binary", 4, 1, 3, 2, 14), ("binary-first", 4, 1, 3, 2, 14),
               ("fixed", 2, 2, 2, 2, 8), ("fixed", 2, 1, 1, 1, 12)]


@pytest.mark.parametrize("kind, fan_in, pe, simd, in_lanes, steps", MVU_STREAMS,
                         ids=[f"{k}-2x{f}-pe{p}-simd{s}-lanes{l}" for k, f, p, s, l, _ in
                              MVU_STREAMS])
def test_mvu_stream_contract(kind, fan_in, pe, simd, in_lanes, steps):
    unit, layer = _mvu(kind, pe, simd, in_lanes, fan_in)
    name = f"MVU({kind}, 2x{fan_in}, pe={pe}, simd={simd}, in_lanes={in_lanes})"
    proof = prove_stream(unit, formal.mvu_model(unit, layer), name=name, steps=steps)
    _proved(proof, name)
    assert proof.steps == steps


# pipelined (registered every adder level): SIMD 4 is two registered groups of 2 lanes, their
# registered sum and the result register (3 cycles more latency); SIMD 2, one group, only the
# result register
PIPELINED_MVU_STREAMS = [("binary", 4, 1, 4, 4, 12), ("binary", 4, 2, 2, 2, 12),
                         ("fixed", 2, 2, 2, 2, 10)]


@pytest.mark.parametrize("kind, fan_in, pe, simd, in_lanes, steps", PIPELINED_MVU_STREAMS,
                         ids=[f"{k}-2x{f}-pe{p}-simd{s}-lanes{l}" for k, f, p, s, l, _ in
                              PIPELINED_MVU_STREAMS])
def test_pipelined_mvu_stream_contract(kind, fan_in, pe, simd, in_lanes, steps):
    unit, layer = _mvu(kind, pe, simd, in_lanes, fan_in, pipeline=1)
    assert sum(unit.stages) == (3 if simd == 4 else 1)
    name = f"MVU({kind}, 2x{fan_in}, pe={pe}, simd={simd}, in_lanes={in_lanes}, pipeline=1)"
    proof = prove_stream(unit, formal.mvu_model(unit, layer), name=name, steps=steps)
    _proved(proof, name)


def test_canary_pipelined_mvu_whose_dot_registers_ignore_stalls_fails():
    # the staged dot's registers load every cycle: a stall at the output lets a partial sum
    # move on without its step, so a result is lost or repeated
    broken = _mutated(mvu_module, "m.d.comb += unit.en.eq(advance)", "m.d.comb += unit.en.eq(1)")
    unit, layer = _mvu("binary", 1, 4, 4, pipeline=1, module=broken)
    with pytest.raises(EquivalenceError, match=(
            r"^MVU with free-running dot registers breaks its stream contract at step \d+: "
            r"an offered beat is the next one the reference gives for the items taken in, and "
            r"every input it depends on has been taken$")):
        prove_stream(unit, formal.mvu_model(unit, layer),
                     name="MVU with free-running dot registers", steps=10)


def test_skid_buffer_stream_contract():
    # one beat an item: the k-th beat out is the k-th beat in, never lost, repeated or changed
    # under a stall, and the buffer holds no more than its two registers (ring 4)
    model = formal.StreamModel(1, 1, (0,), lambda m, beats, k: beats[0].as_value(),
                               patience=4, interval=1, settle=0, ring=4)
    name = "SkidBuffer(2 x signed(2))"
    proof = prove_stream(SkidBuffer(data.ArrayLayout(signed(2), 2)), model, name=name,
                         steps=10)
    _proved(proof, name)


def test_canary_skid_buffer_that_forgets_its_skid_fails():
    # the beat accepted while the output stalls is stored but never marked: it is lost
    broken = _mutated(skid_module, "m.d.sync += [skid.eq(i.payload), skid_valid.eq(1)]",
                      "m.d.sync += [skid.eq(i.payload)]")
    model = formal.StreamModel(1, 1, (0,), lambda m, beats, k: beats[0].as_value(),
                               patience=4, interval=1, settle=0, ring=4)
    with pytest.raises(EquivalenceError, match=(
            r"^forgetful skid buffer breaks its stream contract at step \d+: an offered beat is "
            r"the next one the reference gives for the items taken in, and every input it "
            r"depends on has been taken$")):
        prove_stream(broken.SkidBuffer(data.ArrayLayout(signed(2), 2)), model,
                     name="forgetful skid buffer", steps=10)


def _window(in_shape, lanes, kernel, stride, padding, cls=None):
    cls = cls or window_module.SlidingWindow
    kernel = (kernel, min(kernel, in_shape[1] + 2 * padding))
    return cls(unsigned(2), in_shape=in_shape, lanes=lanes, kernel=kernel,
               stride=(stride, stride), padding=(padding,) * 4, pad_code=1)


# the 4x1 column's line buffer holds 4 beats: 12 cycles can overrun it, stalled or not
WINDOW_STREAMS = [((3, 3, 1), 1, 2, 1, 0), ((3, 3, 1), 1, 3, 2, 1), ((4, 4, 1), 1, 2, 2, 0),
                  ((3, 3, 2), 1, 2, 1, 1), ((3, 3, 2), 2, 2, 1, 0), ((4, 1, 1), 1, 2, 1, 0)]


@pytest.mark.parametrize("in_shape, lanes, kernel, stride, padding", WINDOW_STREAMS,
                         ids=[f"{'x'.join(map(str, i))}-l{l}-k{k}-s{s}-p{p}"
                              for i, l, k, s, p in WINDOW_STREAMS])
def test_window_stream_contract(in_shape, lanes, kernel, stride, padding):
    unit = _window(in_shape, lanes, kernel, stride, padding)
    name = f"SlidingWindow({in_shape}, lanes={lanes}, k={kernel}, s={stride}, p={padding})"
    proof = prove_stream(unit, formal.window_model(unit), name=name, steps=12)
    _proved(proof, name)


def test_window_model_follows_the_reference_order():
    # 3x3 image of one channel, kernel 2, stride 1, padding 1 on every side: the first window
    # is (pad, pad, pad, pixel 0), the second (pad, pad, 0, 1); beats are pixels here
    model = formal.window_model(_window((3, 3, 1), 1, 2, 1, 1))
    assert model.in_beats == 9 and model.out_beats == 16 * 4
    assert model.needs[:8] == (-1, -1, -1, 0, -1, -1, 0, 1)
    assert model.needs[-4:] == (8, -1, -1, -1)


def _mutated(module, old, new):
    """Return a copy of ``module`` with the source snippet ``old`` (found once) replaced."""
    source = inspect.getsource(module)
    assert source.count(old) == 1, old
    copy = types.ModuleType(module.__name__ + "_mutant")
    copy.__package__ = module.__package__
    sys.modules[copy.__name__] = copy
    exec(compile(source.replace(old, new), copy.__name__, "exec"), copy.__dict__)
    return copy


def test_canary_mvu_with_the_broken_backpressure_rule_fails_full_rate():
    # the mutant: advance only on an empty output register halves the throughput
    broken = _mutated(mvu_module, "advance.eq(~o.valid | o.ready)", "advance.eq(~o.valid)")
    rng = np.random.default_rng(0)
    layer = random_layer(rng, 4, 2, BIPOLAR, scores=False)
    unit = broken.MatrixVectorUnit(lower_layer(layer), pe=1, simd=4, in_lanes=4)
    with pytest.raises(EquivalenceError, match=(
            r"^broken MVU breaks its stream contract at step \d+: with the sink ready and the "
            r"item taken in whole, its beats follow each other one per interval$")):
        prove_stream(unit, formal.mvu_model(unit, layer), name="broken MVU", steps=8)


def test_canary_window_that_drops_a_beat_under_stall_fails():
    # the read port keeps reading while the output is stalled: the word stage 1 holds is
    # replaced by the next one, so a beat is lost (and another doubled) under valid & ~ready
    broken = _mutated(window_module, "port.en.eq(advance),", "port.en.eq(1),")
    unit = _window((3, 3, 1), 1, 2, 1, 0, cls=broken.SlidingWindow)
    with pytest.raises(EquivalenceError, match=(
            r"^dropping window breaks its stream contract at step \d+: an offered beat is the "
            r"next one the reference gives for the items taken in, and every input it depends "
            r"on has been taken$")):
        prove_stream(unit, formal.window_model(unit), name="dropping window", steps=12)


def test_canary_stream_model_that_expects_other_data_fails():
    unit, layer = _mvu("binary", 2, 4, 4)
    model = formal.mvu_model(unit, layer)
    wrong = formal.StreamModel(**{**model.__dict__, "expected":
                                  lambda m, beats, k: model.expected(m, beats, k) ^ 1})
    with pytest.raises(EquivalenceError, match=(
            r"^MVU against a wrong model breaks its stream contract at step \d+: an offered "
            r"beat is the next one the reference gives for the items taken in, and every input "
            r"it depends on has been taken$")):
        prove_stream(unit, wrong, name="MVU against a wrong model", steps=6)


# --- Canaries: a broken core must fail its proof, naming the counterexample ---------------------

class _StrictThreshold(Threshold):
    """Threshold with ``>`` for ``>=``: wrong exactly when ``acc == bound`` and not ``flip``."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(Mux(self.flip, self.acc <= self.bound, self.acc > self.bound))
        return m


def test_canary_off_by_one_threshold_fails_at_the_boundary():
    name = "Threshold(signed(3), signed(3)) with > for >="
    with pytest.raises(EquivalenceError, match=(
            r"^Threshold\(signed\(3\), signed\(3\)\) with > for >= differs from its "
            r"specification at acc=(-?\d), bound=(-?\d), flip=0: y is 0, the specification "
            r"gives 1$")) as error:
        prove(_StrictThreshold(signed(3), signed(3)), formal.threshold_spec, name=name)
    values = error.value.counterexample[0]
    assert values["acc"] == values["bound"] and values["flip"] == 0
    assert error.value.outputs == {"y": (0, 1)}
    assert re.search(rf"acc={values['acc']}, bound={values['acc']},", str(error.value))


class _OffsetPlusOne(wiring.Component):
    """The issue's mutant: a requantizer computing ``+ offset + 1``."""

    def __init__(self, output):
        self._core = Requantizer(signed(4), unsigned(3), signed(4), output, max_shift=2)
        super().__init__({"acc": In(signed(4)), "multiplier": In(unsigned(3)),
                          "offset": In(signed(4)), "shift": In(range(3)),
                          "zero_point": In(output), "y": Out(output)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.d.comb += [core.acc.eq(self.acc), core.multiplier.eq(self.multiplier),
                     core.offset.eq(self.offset + 1), core.shift.eq(self.shift),
                     core.zero_point.eq(self.zero_point), self.y.eq(core.y)]
        return m


def test_canary_rounding_mutant_of_the_requantizer_fails():
    with pytest.raises(EquivalenceError, match=(
            r"^Requantizer \+ offset \+ 1 differs from its specification at "
            r"acc=-?\d+, multiplier=\d, offset=-?\d, shift=\d, zero_point=-?\d: "
            r"y is -?\d, the specification gives -?\d$")) as error:
        prove(_OffsetPlusOne(signed(4)), formal.requantizer_spec(0, signed(4)),
              name="Requantizer + offset + 1")
    core, spec = error.value.outputs["y"]
    assert core != spec


def test_canary_pipeline_checked_at_the_wrong_latency_fails():
    core = xnor_unit(5, "pipelined", register_every=1)
    with pytest.raises(EquivalenceError, match=(
            r"^pipeline one cycle early differs from its specification at step 1: x=\d+, "
            r"w=\d+; step 2: x=\d+, w=\d+; step 3: x=\d+, w=\d+: count is \d, the "
            r"specification gives \d$")) as error:
        prove(core, formal.xnor_dot_spec, name="pipeline one cycle early",
              latency=core.latency - 1)
    assert len(error.value.counterexample) == core.latency


class _OverrunArgmax(Argmax):
    """Takes every beat, even one that completes a vector while the last result waits."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i_stream.ready.eq(1)
        return m


def test_canary_argmax_that_overwrites_a_stalled_result_fails():
    with pytest.raises(EquivalenceError, match=(
            r"^overrun argmax breaks its stream contract at step \d+ \(no vector completes "
            r"while its predecessor's result is still owed\) after step 1: i_stream__valid=[01], "
            r"i_stream__payload=\[-?\d, -?\d\], o_stream__ready=[01]; .*$")) as error:
        prove_argmax_stream(_OverrunArgmax(signed(3), 4, 2), name="overrun argmax", steps=8)
    last = error.value.counterexample[-1]
    assert last["i_stream__valid"] == 1 and last["o_stream__ready"] == 0


class _ReversedLanes(wiring.Component):
    """An argmax stage fed each beat's lanes in reverse order: results change, none is lost."""

    def __init__(self, score_shape, classes, lanes):
        self._core = Argmax(score_shape, classes, lanes)
        super().__init__(dict(self._core.signature.members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        lanes = len(self.i_stream.payload)
        m.d.comb += [core.i_stream.valid.eq(self.i_stream.valid),
                     self.i_stream.ready.eq(core.i_stream.ready)]
        m.d.comb += [core.i_stream.payload[lane].eq(self.i_stream.payload[lanes - 1 - lane])
                     for lane in range(lanes)]
        wiring.connect(m, core.o_stream, wiring.flipped(self.o_stream))
        return m


def test_canary_argmax_with_reordered_scores_fails_the_exact_check():
    with pytest.raises(EquivalenceError, match=(
            r"^reversed argmax breaks its stream contract at step \d+ \(an offered result is "
            r"the argmax and the scores of the vector it answers\) after step 1: .*$")):
        prove_argmax_stream(_ReversedLanes(signed(2), 2, 2), name="reversed argmax", steps=4)


def test_canary_ternary_code_minus_two_is_excluded_only_by_the_assumption():
    # the unit reads the illegal code -2 as -1; without the assumption the proof must find it
    def unconstrained(ports):
        return Specification(formal.ternary_dot_spec(ports).outputs)
    with pytest.raises(EquivalenceError, match=(
            r"^TernaryDot\(1, unsigned\(2\)\) without assumptions differs from its "
            r"specification at x=\[([1-3])\], w=\[-2\]: sum is -\1, the specification gives "
            r"-(\d)$")) as error:
        prove(TernaryDot(1, unsigned(2)), unconstrained,
              name="TernaryDot(1, unsigned(2)) without assumptions")
    assert error.value.outputs["sum"][1] == 2 * error.value.outputs["sum"][0]


# --- The prover's own errors --------------------------------------------------------------------

def test_assumptions_that_exclude_every_input_are_refused():
    def impossible(ports):
        return Specification({"count": ports["bits"][0]}, [ports["bits"] == 1, ports["bits"] == 2])
    with pytest.raises(VerificationError, match=(
            r"^the assumptions of Popcount\(2\) exclude every input: a proof under them would "
            r"prove nothing$")):
        prove(Popcount(2), impossible, name="Popcount(2)")


@pytest.mark.parametrize("outputs, given", [({"total": 0}, "total"),
                                            ({"count": 0, "total": 0}, "count, total"),
                                            ({}, "")])
def test_specification_must_give_exactly_the_core_outputs(outputs, given):
    with pytest.raises(ValueError, match=rf"^the specification must give exactly the core's "
                                         rf"outputs \(count\), not \({given}\)$"):
        prove(Popcount(2), lambda ports: Specification(outputs), name="Popcount(2)")


@pytest.mark.parametrize("latency", [-1, 1.0, True])
def test_latency_must_be_a_non_negative_integer(latency):
    with pytest.raises(ValueError, match=rf"^latency must be a non-negative integer, "
                                         rf"not {re.escape(repr(latency))}$"):
        prove(Popcount(2), formal.popcount_spec, name="Popcount(2)", latency=latency)


@pytest.mark.parametrize("steps", [1, 2.5, False])
def test_stream_steps_must_be_at_least_two(steps):
    unit, layer = _mvu("binary", 2, 4, 4)
    with pytest.raises(ValueError, match=rf"^steps must be an integer of at least 2, "
                                         rf"not {re.escape(repr(steps))}$"):
        prove_stream(unit, formal.mvu_model(unit, layer), name="MVU", steps=steps)


@pytest.mark.parametrize("steps", [1, 2.5, False])
def test_argmax_steps_must_be_at_least_two(steps):
    with pytest.raises(ValueError, match=rf"^steps must be an integer of at least 2, "
                                         rf"not {re.escape(repr(steps))}$"):
        prove_argmax_stream(Argmax(signed(2), 2, 1), name="Argmax", steps=steps)


def test_missing_yosys_is_an_error_not_a_skip(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match=r"^yosys is not installed or not on PATH: "):
        prove(Popcount(2), formal.popcount_spec, name="Popcount(2)")
