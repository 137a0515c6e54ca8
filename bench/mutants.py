"""Mutation run: do the tests catch real bugs? Named mutants, applied one at a time.

Each :class:`Mutant` names a source file, an exact snippet of it (which must occur exactly once,
or the run stops: the source moved on and the list must follow), its replacement, and why the
change matters. For each mutant the file is rewritten in place, the tests that should catch it
run (``pytest -x``, no cache, no bytecode written), and the original is restored in a
``finally``; the run checks with ``git diff --quiet`` that the tree is clean after every mutant.
The files are rewritten in the work tree itself (the package is installed from it): run
nothing else in this tree while the mutation run is going, or it may test a mutant. A mutant is
*killed* when a test fails (or the run times out, a hang being a failure too) and
*survives* when every test passes. A mutant marked ``equivalent`` is run like the others but left
out of the score, with the reason given.

Writes ``bench/results/mutants.json`` and ``bench/results/mutants.md`` (a table: mutant, module,
the test that killed it, seconds) and prints a summary; the exit status is 1 when the killed share
of the non-equivalent mutants is below :data:`TARGET`.

Run: ``python bench/mutants.py [--only NAME ...] [--timeout SECONDS]`` (``make mutants``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET = 0.95
"""The share of non-equivalent mutants the tests must kill."""


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug.

    Attributes
    ----------
    name : str
        Short unique name.
    path : str
        The file, relative to the repository root.
    original, replacement : str
        The exact snippet (found exactly once) and what replaces it.
    why : str
        The real bug it stands for.
    tests : tuple of str
        pytest arguments selecting the tests that should catch it (node ids, files, ``-k``).
    equivalent : str
        If not empty, why the mutant cannot change behaviour (it is then not scored).
    """

    name: str
    path: str
    original: str
    replacement: str
    why: str
    tests: tuple[str, ...]
    equivalent: str = ""


CORES = "tests/hw/test_cores.py"
FORMAL = "tests/sim/test_formal.py"
MVU = "tests/hw/test_mvu.py"
WINDOW = "tests/hw/test_sliding_window.py"
REFERENCE = "tests/sw/test_reference.py"

MUTANTS = [
    # --- arithmetic cores -------------------------------------------------------------------
    Mutant("popcount-drops-top-bit", "hw/cores/popcount.py",
           "return count[:bits_for(len(bits))] if len(bits) else count",
           "return count[:bits_for(len(bits)) - 1] if len(bits) else count",
           "a count one bit too narrow wraps when every bit is set",
           (f"{CORES}::test_popcount_counts_set_bits",)),
    Mutant("adder-tree-drops-odd-operand", "hw/cores/popcount.py",
           "        if len(level) % 2:\n            paired.append(level[-1])",
           "        if False:\n            paired.append(level[-1])",
           "an odd operand out at a tree level is lost",
           (f"{CORES}::test_popcount_counts_set_bits",)),
    Mutant("adder-tree-leftover-carry-subtracted", "hw/cores/popcount.py",
           "        total = total + carry", "        total = total - carry",
           "carry-ins left over at the root (more negations than adders) counted with the "
           "wrong sign", (f"{CORES}::test_binary_weight_dot_adds_or_subtracts",
                          f"{FORMAL}::test_binary_weight_dot")),
    Mutant("complement-keeps-sign-bit", "hw/cores/popcount.py",
           "result.eq(extended ^ invert.replicate(width))",
           "result.eq(extended ^ invert.replicate(width - 1))",
           "a negated term whose sign bit is not inverted",
           (f"{CORES}::test_binary_weight_dot_adds_or_subtracts",)),
    Mutant("full-adder-carry", "hw/cores/compressor.py",
           "return half ^ c, (a & b) | (half & c)", "return half ^ c, (a & b) | (a & c)",
           "a full adder's carry from the wrong operands",
           ("tests/hw/test_popcount_architectures.py::test_counter_counts_every_input_pattern",)),
    Mutant("half-adder-carry-or", "hw/cores/compressor.py",
           "total, carry = a ^ b, a & b", "total, carry = a ^ b, a | b",
           "a half adder's carry as OR",
           ("tests/hw/test_popcount_architectures.py::test_counter_counts_every_input_pattern",)),
    Mutant("carry-chain-borrow", "hw/cores/compressor.py",
           "Cat(carry_in, x_row) - Cat(Const(1, 1), ~Cat(y_row, Const(0, 1)))",
           "Cat(carry_in, x_row) - Cat(Const(0, 1), ~Cat(y_row, Const(0, 1)))",
           "the carry chain's borrow-in that makes the subtraction an addition",
           ("tests/hw/test_popcount_architectures.py::"
            "test_carry_chain_add_adds_rows_and_carry_in",)),
    Mutant("xnor-as-xor", "hw/cores/xnor_dot.py",
           "popcount(~(self.x ^ self.w))", "popcount(self.x ^ self.w)",
           "counting disagreeing lanes instead of agreeing ones",
           (f"{CORES}::test_xnor_dot_counts_agreeing_lanes",)),
    Mutant("binary-weight-sign", "hw/cores/binary_weight_dot.py",
           "negative = [~self.w[i] for i in range(self._lanes)]",
           "negative = [self.w[i] for i in range(self._lanes)]",
           "weight bit 1 read as -1 (the artifact's bipolar encoding inverted)",
           (f"{CORES}::test_binary_weight_dot_adds_or_subtracts",)),
    Mutant("binary-weight-term-width", "hw/cores/binary_weight_dot.py",
           "width = Shape.cast(self.x.shape().elem_shape).width + 1",
           "width = Shape.cast(self.x.shape().elem_shape).width",
           "a term with no room for the sign of a negated unsigned input",
           (f"{CORES}::test_binary_weight_dot_adds_or_subtracts",)),
    Mutant("ternary-zero-weight-counts", "hw/cores/ternary_dot.py",
           "term.eq(Mux(w == 0, 0, complement))", "term.eq(complement)",
           "weight 0 not skipped",
           ("tests/hw/test_ternary_dot.py::test_ternary_dot_matches_numpy",)),
    Mutant("ternary-carry-from-low-bit", "hw/cores/ternary_dot.py",
           "negative.append(w[1])", "negative.append(w[0])",
           "the +1 of a negation taken from the wrong weight bit",
           ("tests/hw/test_ternary_dot.py::test_ternary_dot_matches_numpy",)),
    Mutant("lut-multiplier-sign-partial", "hw/cores/fixed_dot.py",
           "return adder_tree(partials[:-1]) - partials[-1] if width > 1 else -partials[-1]",
           "return adder_tree(partials[:-1]) + partials[-1] if width > 1 else -partials[-1]",
           "the sign bit of a signed weight added instead of subtracted (LUT multiplier)",
           ("tests/hw/test_fixed_dot.py::test_multiplier_is_exact_for_any_widths",)),
    Mutant("lut-multiplier-no-shift", "hw/cores/fixed_dot.py",
           "partials = [Mux(w[i], x << i, 0) for i in range(width)]",
           "partials = [Mux(w[i], x, 0) for i in range(width)]",
           "shift-add partial products not shifted",
           ("tests/hw/test_fixed_dot.py::test_multiplier_is_exact_for_any_widths",)),
    Mutant("fixed-dot-sum-too-narrow", "hw/cores/fixed_dot.py",
           '"sum": Out(signed(bits_for(bound) + 1)),', '"sum": Out(signed(bits_for(bound))),',
           "a sum one bit too narrow: the most negative products wrap",
           ("tests/hw/test_fixed_dot.py::test_most_negative_times_most_negative_fits",
            "tests/hw/test_fixed_dot.py::test_dot_matches_numpy")),
    Mutant("threshold-strict", "hw/cores/threshold.py",
           "Mux(self.flip, self.acc <= self.bound, self.acc >= self.bound)",
           "Mux(self.flip, self.acc <= self.bound, self.acc > self.bound)",
           "off by one at the threshold (> for >=)",
           (f"{CORES}::test_threshold_compares_up_and_down",)),
    Mutant("threshold-flip-strict", "hw/cores/threshold.py",
           "Mux(self.flip, self.acc <= self.bound, self.acc >= self.bound)",
           "Mux(self.flip, self.acc < self.bound, self.acc >= self.bound)",
           "off by one at a flipped threshold (< for <=)",
           (f"{CORES}::test_threshold_compares_up_and_down",)),
    Mutant("multithreshold-strict", "hw/cores/multithreshold.py",
           "Mux(self.flip, self.acc <= bound, self.acc >= bound)",
           "Mux(self.flip, self.acc <= bound, self.acc > bound)",
           "a level passed only above its threshold",
           ("tests/hw/test_multithreshold.py::test_thresholds_at_the_boundary_are_passed",
            "tests/hw/test_multithreshold.py::test_multithreshold_matches_reference")),
    Mutant("multithreshold-drops-a-level", "hw/cores/multithreshold.py",
           "m.d.comb += self.y.eq(popcount(passed))", "m.d.comb += self.y.eq(popcount(passed[1:]))",
           "the first level never counted",
           ("tests/hw/test_multithreshold.py::test_multithreshold_matches_reference",)),
    Mutant("requantizer-offset-plus-one", "hw/cores/requantizer.py",
           "product(self.acc, self.multiplier, self._dsp) + self.offset)",
           "product(self.acc, self.multiplier, self._dsp) + self.offset + 1)",
           "the issue's rounding error of one (+ offset -> + offset + 1)",
           ("tests/hw/test_requantizer.py",)),
    Mutant("requantizer-no-zero-point", "hw/cores/requantizer.py",
           "value.eq(shifted + self.zero_point)", "value.eq(shifted)",
           "the zero point forgotten", ("tests/hw/test_requantizer.py",)),
    Mutant("requantizer-no-low-clamp", "hw/cores/requantizer.py",
           "Mux(value < low, low, Mux(value > high, high, value))",
           "Mux(value > high, high, value)",
           "no saturation at the bottom: negative values wrap",
           ("tests/hw/test_requantizer.py",)),
    Mutant("requantizer-high-off-by-one", "hw/cores/requantizer.py",
           "high = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1",
           "high = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width)",
           "unsigned saturation one above the largest code (wraps to 0)",
           ("tests/hw/test_requantizer.py",)),
    Mutant("requantizer-ignores-base-shift", "hw/cores/requantizer.py",
           "shifted.eq((scaled >> self._base) >> self.shift)", "shifted.eq(scaled >> self.shift)",
           "the shared base shift of the layer dropped", ("tests/hw/test_requantizer.py",)),
    Mutant("argmax-ties-to-last", "hw/cores/argmax.py",
           "better = i.payload[lane] > run_score", "better = i.payload[lane] >= run_score",
           "ties go to the highest index (numpy.argmax takes the lowest)",
           ("tests/hw/test_argmax.py::test_argmax_matches_numpy_with_ties",)),
    Mutant("argmax-ignores-backpressure", "hw/cores/argmax.py",
           "m.d.comb += i.ready.eq(~last | ~o.valid | o.ready)", "m.d.comb += i.ready.eq(1)",
           "a completed vector overwrites a result still waiting for the sink",
           (f"{FORMAL}", "-k", "argmax_stream_contract")),
    # --- MVU and sliding-window control --------------------------------------------------------
    Mutant("mvu-advance-only-when-empty", "hw/cores/mvu.py",
           "m.d.comb += advance.eq(~o.valid | o.ready)", "m.d.comb += advance.eq(~o.valid)",
           "the issue's backpressure mutant: half the throughput",
           (f"{FORMAL}", "-k", "mvu_stream_contract")),
    Mutant("mvu-drops-valid-under-stall", "hw/cores/mvu.py",
           "        with m.Elif(o.ready):\n            m.d.sync += o.valid.eq(0)",
           "        with m.Else():\n            m.d.sync += o.valid.eq(0)",
           "a result withdrawn while valid & ~ready (lost beat)",
           (f"{FORMAL}", "-k", "mvu_stream_contract")),
    Mutant("mvu-accumulator-not-cleared", "hw/cores/mvu.py",
           "total.eq(Mux(accumulating.first, 0, acc) + contribution)",
           "total.eq(acc + contribution)",
           "the accumulator carries over from the previous output group",
           (f"{MVU}::test_mvu_xnor_layer_every_folding_full_rate",)),
    Mutant("mvu-first-step", "hw/cores/mvu.py",
           "tag.first.eq(sf == 0), tag.last.eq(sf == sf_count - 1)",
           "tag.first.eq(sf == 0), tag.last.eq(sf == 0)",
           "an output emitted after the first synapse fold instead of the last",
           (f"{MVU}::test_mvu_xnor_layer_every_folding_full_rate",)),
    Mutant("mvu-writes-a-full-bank", "hw/cores/mvu.py",
           "self.accepting.eq(~full_next.bit_select(write_next, 1))", "self.accepting.eq(1)",
           "the input buffer overwrites a vector still being computed",
           (f"{FORMAL}", "-k", "mvu_stream_contract")),
    Mutant("mvu-bank-never-freed", "hw/cores/mvu.py",
           "full_next.eq((self.full | filled) & ~drained)", "full_next.eq(self.full | filled)",
           "a bank never marked empty: the unit deadlocks after two vectors",
           (f"{FORMAL}", "-k", "mvu_stream_contract")),
    Mutant("mvu-word-collector-order", "hw/cores/mvu.py",
           "m.d.sync += earlier.eq(word[beat_bits:])",
           "m.d.sync += earlier.eq(word[:len(earlier)])",
           "whole-word buffer writes that keep the row's first beats instead of shifting them down",
           (f"{MVU}::test_mvu_whole_word_writes_collect_exactly_the_filling_foldings",)),
    Mutant("mvu-weight-order", "hw/cores/mvu.py",
           "blocks = blocks.transpose(0, 2, 1, 3).reshape(-1, pe * simd)",
           "blocks = blocks.reshape(-1, pe * simd)",
           "weight words in (PE, SF) order instead of FINN's (SF, PE)",
           (f"{MVU}::test_mvu_weight_words_follow_finn_order",)),
    Mutant("xnor-padding-code-counts", "hw/compiler/dots.py",
           "neutral_code = 1  # 0 XNOR 1 = 0: not counted",
           "neutral_code = 0  # 0 XNOR 1 = 0: not counted",
           "padding lanes of a partial synapse fold counted as agreeing",
           (f"{MVU}::test_mvu_xnor_layer_every_folding_full_rate",)),
    Mutant("window-reads-under-stall", "hw/cores/sliding_window.py",
           "port.en.eq(advance),", "port.en.eq(1),",
           "the read data change while the output is stalled: a beat is lost",
           (f"{FORMAL}", "-k", "window_stream_contract")),
    Mutant("window-right-padding", "hw/cores/sliding_window.py",
           "| _less(column, columns, 0) | ~_less(column, columns, row_words)),",
           "| _less(column, columns, 0)),",
           "the right padding columns read from the next row",
           (f"{WINDOW}::test_explicit_geometries",)),
    Mutant("window-writer-ignores-full", "hw/cores/sliding_window.py",
           "i.ready.eq(rows_held < self.buffer_rows)", "i.ready.eq(1)",
           "the writer overwrites a row the reader still needs",
           (f"{FORMAL}", "-k", "window_stream_contract and 4x1")),
    Mutant("window-row-ready-early", "hw/cores/sliding_window.py",
           "rows_ready.eq(base_row + rows_held > need)",
           "rows_ready.eq(base_row + rows_held >= need)",
           "a window read one row before that row is written",
           (f"{FORMAL}", "-k", "window_stream_contract")),
    Mutant("window-horizontal-stride", "hw/cores/sliding_window.py",
           "m.d.sync += [ox.eq(ox + 1), iy.eq(iy_base),\n"
           "                         column_base.eq(column_base + sw * groups),",
           "m.d.sync += [ox.eq(ox + 1), iy.eq(iy_base),\n"
           "                         column_base.eq(column_base + groups),",
           "the horizontal stride ignored between windows of a row",
           (f"{WINDOW}::test_explicit_geometries",)),
    Mutant("window-buffer-too-small", "hw/cores/sliding_window.py",
           "return max(1, last, *held, *ahead)", "return max(1, *held)",
           "a line buffer without room for the next output row's rows: bubbles between rows",
           (f"{WINDOW}::test_read_side_emits_one_beat_a_cycle",)),
    # --- the integer reference -----------------------------------------------------------------
    Mutant("reference-output-size", "sw/reference.py",
           "return (size + pad_before + pad_after - kernel) // stride + 1",
           "return (size + pad_before + pad_after - kernel) // stride",
           "one window too few along each axis", (f"{WINDOW}::test_properties",)),
    Mutant("reference-windows-strides-swapped", "sw/reference.py",
           "padded[:, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :]",
           "padded[:, oy * sw:oy * sw + kh, ox * sh:ox * sh + kw, :]",
           "vertical and horizontal strides swapped (only differs when they differ)",
           (f"{REFERENCE}",)),
    Mutant("reference-threshold-strict", "sw/reference.py",
           "np.where(directions * acc >= thresholds, 1, -1)",
           "np.where(directions * acc > thresholds, 1, -1)",
           "the reference's threshold off by one",
           (f"{REFERENCE}::test_threshold_fires_on_equality_in_both_directions",)),
    Mutant("reference-multithreshold-strict", "sw/reference.py",
           "np.sum(signed_acc >= thresholds, axis=-1)", "np.sum(signed_acc > thresholds, axis=-1)",
           "the reference's multi-threshold off by one", (f"{REFERENCE}",)),
    Mutant("reference-requantize-no-zero-point", "sw/reference.py",
           "y = (product >> output.shift) + output.zero_point", "y = (product >> output.shift)",
           "the reference forgets the zero point", (f"{REFERENCE}",)),
    Mutant("reference-requantize-clip-high", "sw/reference.py",
           "np.clip(y, output.encoding.min, output.encoding.max)",
           "np.clip(y, output.encoding.min, output.encoding.max + 1)",
           "the reference saturates one above the largest value", (f"{REFERENCE}",)),
    Mutant("reference-argmax-ties-to-last", "sw/reference.py",
           "return np.argmax(scores, axis=-1).astype(np.int64)",
           "return (np.shape(scores)[-1] - 1\n"
           "            - np.argmax(np.asarray(scores)[..., ::-1], axis=-1)).astype(np.int64)",
           "ties to the highest class index",
           (f"{REFERENCE}::test_argmax_ties_go_to_the_lowest_index",)),
    Mutant("reference-maxpool-min", "sw/reference.py",
           "return windows(x, kernel, stride).max(axis=(3, 4))",
           "return windows(x, kernel, stride).min(axis=(3, 4))",
           "pooling takes the minimum",
           ("tests/hw/test_window_max.py::test_maxima_match_reference",)),
    # --- lowering ------------------------------------------------------------------------------
    Mutant("lowering-floor-for-ceil", "hw/compiler/dots.py",
           "np.where(flips == 1, shifted // scale, -(-shifted // scale))",
           "np.where(flips == 1, shifted // scale, shifted // scale)",
           "the issue's floor-for-ceil count-domain threshold error",
           ("tests/hw/test_lowering.py::test_xnor_count_domain_thresholds_are_exact",)),
    Mutant("lowering-ceil-for-floor", "hw/compiler/dots.py",
           "np.where(flips == 1, shifted // scale, -(-shifted // scale))",
           "np.where(flips == 1, -(-shifted // scale), -(-shifted // scale))",
           "a flipped count-domain bound rounded up",
           ("tests/hw/test_lowering.py::test_xnor_count_domain_thresholds_are_exact",)),
    Mutant("lowering-xnor-score-offset", "hw/compiler/dots.py",
           "return np.full(len(weights), -np.shape(weights)[1], dtype=np.int64)",
           "return np.full(len(weights), np.shape(weights)[1], dtype=np.int64)",
           "XNOR scores 2P - K with the wrong sign of K",
           ("tests/hw/test_lowering.py::test_xnor_scores_offset_by_fan_in_and_bias",)),
    Mutant("lowering-binary-first-layer-counts-plus-weights", "hw/compiler/dots.py",
           "return -np.count_nonzero(np.asarray(weights) == -1, axis=1).astype(np.int64)",
           "return -np.count_nonzero(np.asarray(weights) == 1, axis=1).astype(np.int64)",
           "a uint1 x bipolar layer offset by its +1 weights instead of its -1 weights",
           ("tests/hw/test_lowering.py::"
            "test_binary_first_layer_counts_and_shifts_its_constants_per_channel",)),
    Mutant("lowering-threshold-direction", "hw/compiler/outputs.py",
           "dot.accumulator_bounds(np.where(flip == 1, -t, t), flip, weights)",
           "dot.accumulator_bounds(t, flip, weights)",
           "a direction -1 threshold not negated",
           ("tests/hw/test_lowering.py", "tests/hw/test_mvu.py::"
            "test_mvu_xnor_layer_every_folding_full_rate")),
    Mutant("lowering-requantize-shift-base", "hw/compiler/outputs.py",
           "return cls(multiplier=multiplier, offset=offset, shift=shift - base,",
           "return cls(multiplier=multiplier, offset=offset, shift=shift,",
           "per-channel shifts not reduced by the shared base (shifted twice)",
           ("tests/hw/test_lowering.py", "tests/hw/test_mvu_precisions.py")),
    Mutant("lowering-score-scale", "hw/compiler/outputs.py",
           "score.eq(total * self.scale + constant)", "score.eq(total + constant)",
           "an XNOR count used as the score without the factor 2",
           ("tests/hw/test_lowering.py::test_xnor_scores_offset_by_fan_in_and_bias",
            f"{MVU}::test_mvu_matches_reference_for_any_folding")),
    Mutant("lowering-synapse-folds-floor", "hw/compiler/layers/dense.py",
           '"synapse_folds": -(-lowered.fan_in // folding.simd),',
           '"synapse_folds": lowered.fan_in // folding.simd,',
           "the summary's synapse folds rounded down for a partial fold",
           ("tests/hw/test_generate.py", "tests/hw/test_folding.py",
            "tests/hw/test_conv_network.py::test_conv_summary_counts_partial_folds_and_the_"
            "window_bound")),
    Mutant("lowering-conv-kernel-order", "hw/compiler/layers/conv2d.py",
           "layer.weights.reshape(layer.out_channels, -1), layer.output)",
           "layer.weights.transpose(0, 2, 1, 3).reshape(layer.out_channels, -1), layer.output)",
           "convolution weights flattened with the kernel axes swapped (not the window order)",
           ("tests/hw/test_conv_network.py::test_convolution_unit_matches_reference",)),
    Mutant("lowering-conv-cycles", "hw/compiler/layers/conv2d.py",
           '"cycles": max(matrix_cycles, beats),', '"cycles": matrix_cycles,',
           "a convolution fed too narrowly predicted faster than its window generator",
           ("tests/hw/test_conv_network.py::test_window_beats_bound_a_conv_fed_too_narrowly",
            "tests/hw/test_conv_network.py::test_conv_summary_counts_partial_folds_and_the_"
            "window_bound")),
    # --- simulation checkers -------------------------------------------------------------------
    Mutant("network-tb-compares-expected-with-itself", "sim/network_tb.py",
           "rows = np.nonzero(np.any(expected != actual[:len(expected)], axis=1))[0]",
           "rows = np.nonzero(np.any(expected != expected[:len(expected)], axis=1))[0]",
           "the issue's checker comparing expected with itself",
           ("tests/sim/test_verify.py", "-k", "checker")),
    Mutant("network-tb-ignores-missing-outputs", "sim/network_tb.py",
           "    if actual.shape[0] < expected.shape[0]:\n",
           "    if False:\n",
           "missing outputs not reported",
           ("tests/sim/test_verify.py", "-k", "checker")),
    Mutant("board-tb-compares-with-itself", "boards/board_tb.py",
           "if actual != (status, cls, scores):", "if actual != actual:",
           "the board checker comparing a response with itself",
           ("tests/boards/test_board_checker.py",)),
    Mutant("board-tb-ignores-missing-responses", "boards/board_tb.py",
           "    if len(responses) < len(expected):\n",
           "    if False:\n",
           "a hung board not reported",
           ("tests/boards/test_board_checker.py",)),
    Mutant("board-tb-ignores-framing", "boards/board_tb.py",
           "    if sink.framing_errors:\n", "    if False:\n",
           "bytes without a stop bit not reported", ("tests/boards/test_board_checker.py",)),
    Mutant("stream-monitor-counts-stalled-beats", "sim/streams.py",
           "if int(self.port.valid.value) and int(self.port.ready.value):",
           "if int(self.port.valid.value):",
           "a beat offered during backpressure counted as received (duplicates)",
           ("tests/sim/test_network_cocotb.py::test_uneven_folding_with_stalls",)),
    Mutant("stream-driver-assumes-accepted", "sim/streams.py",
           "if offer and int(self.port.ready.value):", "if offer:",
           "a beat counted as sent whether or not ready was high (beats lost)",
           ("tests/sim/test_network_cocotb.py::test_uneven_folding_with_stalls",)),
    Mutant("verify-accepts-another-artifact", "sim/verify.py",
           "    if not matches:\n        raise InterfaceError(",
           "    if False:\n        raise InterfaceError(",
           "a design checked against an artifact it was not generated from",
           ("tests/sim/test_verify.py::test_design_of_another_artifact_is_refused",)),
]


def _apply(mutant: Mutant) -> tuple[Path, str, float]:
    """Write the mutant into its file; return the path, original text and mtime."""
    path = ROOT / mutant.path
    text = path.read_text()
    count = text.count(mutant.original)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name}: the snippet occurs {count} times in "
                         f"{mutant.path}, not once (update bench/mutants.py)\n{mutant.original}")
    mtime = path.stat().st_mtime
    path.write_text(text.replace(mutant.original, mutant.replacement))
    # a new mtime, so no bytecode cached for the original can stand in for the mutant
    os.utime(path, (mtime + 7, mtime + 7))
    return path, text, mtime


def _restore(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def run_mutant(mutant: Mutant, timeout: float) -> dict:
    """Apply ``mutant``, run its tests, restore the file; return its record."""
    start = time.monotonic()
    path, text, mtime = _apply(mutant)
    try:
        command = [sys.executable, "-B", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   "-rf", "--no-header", *mutant.tests]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                    timeout=timeout, env=env, check=False)
            output = result.stdout + result.stderr
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
            if result.returncode == 0:
                verdict, killer = "survived", ""
            elif result.returncode == 1 and failed:
                verdict, killer = "killed", _short(failed[0])
            else:
                verdict, killer = "killed", f"pytest exit {result.returncode}"
            tail = "\n".join(output.strip().splitlines()[-3:])
        except subprocess.TimeoutExpired:
            verdict, killer, tail = "killed", f"timeout after {timeout:.0f} s", ""
    finally:
        _restore(path, text, mtime)
    clean = subprocess.run(["git", "diff", "--quiet", "--", mutant.path], cwd=ROOT).returncode
    if clean != 0:
        raise SystemExit(f"mutant {mutant.name}: {mutant.path} was not restored")
    return {**asdict(mutant), "tests": list(mutant.tests), "verdict": verdict,
            "killed_by": killer, "seconds": round(time.monotonic() - start, 1), "tail": tail}


def _short(test: str) -> str:
    """Return a test id with its parameters cut to 40 printable characters."""
    name, _, params = test.partition("[")
    params = "".join(c if c.isprintable() and c not in "|`" else "?" for c in params.rstrip("]"))
    return f"{name}[{params[:40]}{'...' if len(params) > 40 else ''}]" if params else name


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def write_table(records: list[dict], summary: dict) -> str:
    """Return the Markdown table of ``records`` with the summary line."""
    lines = ["# Mutation run", "",
             f"{summary['killed']} of {summary['scored']} non-equivalent mutants killed "
             f"({100 * summary['score']:.1f} %), {summary['equivalent']} equivalent, "
             f"{summary['seconds']:.0f} s in all (`make mutants`, bench/mutants.py).", "",
             "| mutant | module | bug | verdict | killed by | seconds |",
             "|---|---|---|---|---|---|"]
    for r in records:
        verdict = "equivalent: " + r["equivalent"] if r["equivalent"] else r["verdict"]
        killer = f"`{r['killed_by']}`" if r["killed_by"] else ""
        lines.append(f"| {r['name']} | `{_module(r['path'])}` | {r['why']} | {verdict} | "
                     f"{killer} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[],
                        help="run only this mutant (repeatable; nothing is written)")
    parser.add_argument("--start", default=None,
                        help="skip the mutants before this one (nothing is written)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds the tests of one mutant may take (default 600)")
    args = parser.parse_args(argv)
    names = [mutant.name for mutant in MUTANTS]
    if len(set(names)) != len(names):
        raise SystemExit("mutant names must be unique")
    unknown = sorted(set(args.only + ([args.start] if args.start else [])) - set(names))
    if unknown:
        raise SystemExit(f"unknown mutants: {', '.join(unknown)}")
    for mutant in MUTANTS:  # every snippet is checked before anything runs
        count = (ROOT / mutant.path).read_text().count(mutant.original)
        if count != 1:
            raise SystemExit(f"mutant {mutant.name}: the snippet occurs {count} times in "
                             f"{mutant.path}, not once")
    if subprocess.run(["git", "diff", "--quiet"], cwd=ROOT).returncode != 0:
        raise SystemExit("the work tree has uncommitted changes: commit them first, so that "
                         "every restored file can be checked with git diff")
    # a SIGTERM ends the run through the restoring ``finally``, like Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    start = time.monotonic()
    records = []
    selected = MUTANTS[names.index(args.start):] if args.start else MUTANTS
    for mutant in selected:
        if args.only and mutant.name not in args.only:
            continue
        record = run_mutant(mutant, args.timeout)
        records.append(record)
        print(f"{record['verdict']:>9} {record['seconds']:7.1f} s  {mutant.name}  "
              f"{record['killed_by']}", flush=True)
    scored = [r for r in records if not r["equivalent"]]
    killed = sum(r["verdict"] == "killed" for r in scored)
    summary = {"mutants": len(records), "equivalent": len(records) - len(scored),
               "scored": len(scored), "killed": killed,
               "survived": [r["name"] for r in scored if r["verdict"] == "survived"],
               "score": round(killed / len(scored), 4) if scored else 0.0,
               "seconds": round(time.monotonic() - start, 1)}
    if not args.only and not args.start:
        report = {"python": platform.python_version(), "summary": summary, "mutants": records}
        (RESULTS / "mutants.json").write_text(json.dumps(report, indent=1) + "\n")
        (RESULTS / "mutants.md").write_text(write_table(records, summary))
    print(f"mutants: {killed} of {len(scored)} killed ({100 * summary['score']:.1f} %), "
          f"{summary['equivalent']} equivalent, survivors: "
          f"{', '.join(summary['survived']) or 'none'}; {summary['seconds']:.0f} s")
    return 0 if summary["score"] >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
