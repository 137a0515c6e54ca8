"""Formal equivalence over a larger grid than ``make test`` proves, into ``bench/results/``.

Proves every arithmetic core with :mod:`qnnforge.sim.formal` at sizes whose proofs take seconds
to minutes (SAT time grows fast with the width of the sums), and writes each proof's core,
parameters, verdict and time, plus a summary by core, to ``bench/results/formal.json``. A
counterexample is recorded, not raised, so one broken core does not hide the others. The exit
status is 1 if a proof failed or timed out, or if a proof marked as a known bug passed (as
``xfail(strict=True)`` in the tests: the mark must go once the core is fixed).

The stream stages (argmax, matrix-vector unit, sliding window) get bounded proofs at deeper
bounds than the tests: ``--family "MVU stream" --family "SlidingWindow stream"`` runs only those
families (bench/results/formal-streams.json was written so).

Run: ``python bench/formal.py [--timeout SECONDS] [--output PATH] [--family NAME ...]`` (about
10 minutes for the arithmetic cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import signed, unsigned

from qnnforge.hw.compiler.layers import lower_layer
from qnnforge.hw.cores.argmax import Argmax
from qnnforge.hw.cores.binary_weight_dot import BinaryWeightDot
from qnnforge.hw.cores.fixed_dot import FixedDot, FixedMultiplier
from qnnforge.hw.cores.multithreshold import MultiThreshold
from qnnforge.hw.cores.mvu import MatrixVectorUnit
from qnnforge.hw.cores.requantizer import Requantizer
from qnnforge.hw.cores.sliding_window import SlidingWindow
from qnnforge.hw.cores.ternary_dot import TernaryDot
from qnnforge.hw.cores.threshold import Threshold
from qnnforge.hw.cores.xnor_dot import XnorDot
from qnnforge.hw.explore.xnor_popcount import xnor_unit
from qnnforge.hw.tools.files import write_atomic
from qnnforge.hw.tools.toolchain import tool_version
from qnnforge.sim import formal
from qnnforge.sw.artifact import DenseLayer, ScoreOutput, ThresholdActivation
from qnnforge.sw.encoding import BIPOLAR, sint, uint

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Case:
    """One proof: the core's family and name, how to run it, and a known bug it must find."""

    family: str
    name: str
    run: Callable[[float], formal.Proof]
    known_bug: str = ""


def _equivalence(family: str, name: str, build: Callable, spec: formal.Spec,
                 latency: Callable[[object], int] = lambda core: 0, known_bug: str = "") -> Case:
    def run(timeout: float) -> formal.Proof:
        core = build()
        return formal.prove(core, spec, name=name, latency=latency(core), timeout=timeout)
    return Case(family, name, run, known_bug)


def _shapes(widths) -> list:
    return [unsigned(w) for w in widths] + [signed(w) for w in widths]


def cases() -> Iterator[Case]:
    """Yield the grid, cheapest families first."""
    for a in _shapes((5, 6)):
        for b in _shapes((5, 6)):
            for dsp in (True, False):
                yield _equivalence("FixedMultiplier", f"FixedMultiplier({a}, {b}, dsp={dsp})",
                                   lambda a=a, b=b, dsp=dsp: FixedMultiplier(a, b, dsp=dsp),
                                   formal.fixed_multiplier_spec)
    for acc in _shapes((6, 8)):
        for bound in _shapes((6, 8)):
            yield _equivalence("Threshold", f"Threshold({acc}, {bound})",
                               lambda acc=acc, bound=bound: Threshold(acc, bound),
                               formal.threshold_spec)
    for levels, width in ((15, 4), (7, 6), (3, 8)):
        yield _equivalence("MultiThreshold", f"MultiThreshold(signed({width}), "
                           f"signed({width}), {levels})",
                           lambda levels=levels, width=width: MultiThreshold(
                               signed(width), signed(width), levels),
                           formal.multithreshold_spec)
    for base in range(3):
        for max_shift in range(5):
            for output in (unsigned(4), signed(4)):
                for dsp in (True, False):
                    name = (f"Requantizer(signed(8), unsigned(4), signed(8), {output}, "
                            f"base={base}, max_shift={max_shift}, dsp={dsp})")
                    yield _equivalence(
                        "Requantizer", name,
                        lambda b=base, s=max_shift, o=output, d=dsp: Requantizer(
                            signed(8), unsigned(4), signed(8), o, base=b, max_shift=s, dsp=d),
                        formal.requantizer_spec(base, output))
    yield _equivalence("Requantizer", "Requantizer(unsigned(1), unsigned(1), unsigned(1), "
                       "unsigned(4), base=0, max_shift=0, dsp=True)",
                       lambda: Requantizer(unsigned(1), unsigned(1), unsigned(1), unsigned(4)),
                       formal.requantizer_spec(0, unsigned(4)))
    # Negations as ~x plus a tree carry are hard for SAT: 8 lanes of 2-bit operands take
    # 15-25 s, 8 of 3 bits and 12 or 16 lanes more than 150 s.
    for lanes, x_shapes in ((8, _shapes((1, 2))),):
        for x_shape in x_shapes:
            yield _equivalence("BinaryWeightDot", f"BinaryWeightDot({lanes}, {x_shape})",
                               lambda lanes=lanes, x=x_shape: BinaryWeightDot(lanes, x),
                               formal.binary_weight_dot_spec)
            yield _equivalence("TernaryDot", f"TernaryDot({lanes}, {x_shape})",
                               lambda lanes=lanes, x=x_shape: TernaryDot(lanes, x),
                               formal.ternary_dot_spec)
    for lanes in (4, 5, 6):
        for x_shape, w_shape in ((signed(4), signed(4)), (unsigned(4), signed(4)),
                                 (unsigned(3), unsigned(3))):
            for dsp in (True, False):
                yield _equivalence("FixedDot", f"FixedDot({lanes}, {x_shape}, {w_shape}, "
                                   f"dsp={dsp})",
                                   lambda l=lanes, x=x_shape, w=w_shape, d=dsp: FixedDot(
                                       l, x, w, dsp=d),
                                   formal.fixed_dot_spec)
    for lut_inputs in (4, 6):
        # 32 lanes: 30 s on LUT6, over 5 minutes on LUT4 (a longer chain plan)
        for lanes in (*range(17, 25), *((32,) if lut_inputs == 6 else ())):
            yield _equivalence("XnorDot compressor",
                               f"XnorDot({lanes}, popcount='compressor', "
                               f"lut_inputs={lut_inputs})",
                               lambda l=lanes, k=lut_inputs: XnorDot(
                                   l, popcount="compressor", lut_inputs=k),
                               formal.xnor_dot_spec)
        for lanes in (20, 24):
            weights = [random.Random(lanes).randrange(2) for _ in range(lanes)]
            yield _equivalence("ConstantXnorPopcount",
                               f"xnor_unit({lanes}, 'constant', lut_inputs={lut_inputs}, "
                               f"weights={weights})",
                               lambda l=lanes, k=lut_inputs, w=weights: xnor_unit(
                                   l, "constant", lut_inputs=k, weights=w),
                               formal.constant_xnor_spec(weights))
    for lanes in (24, 32):
        yield _equivalence("XnorDot adder_tree", f"XnorDot({lanes}, popcount='adder_tree')",
                           lambda l=lanes: XnorDot(l), formal.xnor_dot_spec)
        for every in (1, 2):
            yield _equivalence("PipelinedXnorPopcount",
                               f"xnor_unit({lanes}, 'pipelined', register_every={every})",
                               lambda l=lanes, e=every: xnor_unit(
                                   l, "pipelined", register_every=e),
                               formal.xnor_dot_spec, latency=lambda core: core.latency)
    for score_shape, classes, lanes, steps in ((signed(3), 4, 2, 12), (signed(3), 6, 2, 12),
                                               (signed(4), 4, 1, 12), (signed(3), 8, 4, 10)):
        name = f"Argmax({score_shape}, {classes}, {lanes}) for {steps} cycles"
        yield Case("Argmax stream", name,
                   lambda timeout, s=score_shape, c=classes, l=lanes, n=steps, name=name:
                   formal.prove_argmax_stream(Argmax(s, c, l), name=name, steps=n,
                                              timeout=timeout))


    for kind, fan_in, pe, simd, lanes, steps in (("binary", 4, 1, 1, 1, 18),
                                                 ("binary", 4, 1, 2, 4, 14),
                                                 ("fixed", 4, 2, 4, 4, 8),
                                                 ("fixed", 3, 1, 3, 3, 10)):
        name = (f"MVU({kind}, 2x{fan_in}, pe={pe}, simd={simd}, in_lanes={lanes}) "
                f"for {steps} cycles")
        yield Case("MVU stream", name,
                   lambda timeout, a=(kind, fan_in, pe, simd, lanes), n=steps, name=name:
                   _mvu_stream(*a, name=name, steps=n, timeout=timeout))
    for in_shape, lanes, kernel, stride, padding, steps in (((3, 3, 1), 1, 2, 1, 0, 16),
                                                            ((3, 3, 1), 1, 3, 2, 1, 14),
                                                            ((4, 4, 1), 1, 2, 2, 0, 14),
                                                            ((3, 3, 2), 1, 2, 1, 1, 14)):
        name = (f"SlidingWindow({in_shape}, lanes={lanes}, k={kernel}, s={stride}, "
                f"p={padding}) for {steps} cycles")
        yield Case("SlidingWindow stream", name,
                   lambda timeout, a=(in_shape, lanes, kernel, stride, padding), n=steps,
                   name=name: _window_stream(*a, name=name, steps=n, timeout=timeout))


def _mvu_stream(kind, fan_in, pe, simd, lanes, *, name, steps, timeout) -> formal.Proof:
    rng = np.random.default_rng(fan_in * 10 + pe)
    if kind == "binary":
        weights = rng.choice([-1, 1], size=(2, fan_in))
        output = ThresholdActivation(rng.integers(-fan_in, fan_in + 2, size=2),
                                     rng.choice([-1, 1], size=2))
        layer = DenseLayer("layer", BIPOLAR, BIPOLAR, weights, output)
    else:
        weights = rng.integers(-2, 2, size=(2, fan_in))
        layer = DenseLayer("layer", uint(2), sint(2), weights,
                           ScoreOutput(rng.integers(-3, 4, size=2)))
    unit = MatrixVectorUnit(lower_layer(layer), pe=pe, simd=simd, in_lanes=lanes)
    return formal.prove_stream(unit, formal.mvu_model(unit, layer), name=name, steps=steps,
                               timeout=timeout)


def _window_stream(in_shape, lanes, kernel, stride, padding, *, name, steps,
                   timeout) -> formal.Proof:
    unit = SlidingWindow(unsigned(2), in_shape=in_shape, lanes=lanes, kernel=(kernel, kernel),
                         stride=(stride, stride), padding=(padding,) * 4, pad_code=1)
    return formal.prove_stream(unit, formal.window_model(unit), name=name, steps=steps,
                               timeout=timeout)


def run_case(case: Case, timeout: float) -> dict:
    """Run one proof; return its record (a counterexample or timeout is a verdict, not an error)."""
    start = time.perf_counter()
    try:
        proof = case.run(timeout)
        verdict, detail = "proved", ""
        seconds = proof.seconds
    except formal.EquivalenceError as error:
        verdict, detail, seconds = "counterexample", str(error), time.perf_counter() - start
    except formal.ProofTimeout as error:
        verdict, detail, seconds = "timeout", str(error), time.perf_counter() - start
    return {"family": case.family, "core": case.name, "verdict": verdict,
            "seconds": round(seconds, 3), "detail": detail, "known_bug": case.known_bug}


def expected(record: dict) -> bool:
    """Return whether ``record`` is what the grid expects: proved, or a known bug found."""
    return record["verdict"] == ("counterexample" if record["known_bug"] else "proved")


def summarize(records: list[dict]) -> dict:
    """Return, by family, the number of proofs, verdict counts and total and largest time."""
    families: dict[str, dict] = {}
    for record in records:
        entry = families.setdefault(record["family"], {"proofs": 0, "proved": 0,
                                                        "counterexample": 0, "timeout": 0,
                                                        "seconds": 0.0, "max_seconds": 0.0})
        entry["proofs"] += 1
        entry[record["verdict"]] += 1
        entry["seconds"] = round(entry["seconds"] + record["seconds"], 3)
        entry["max_seconds"] = max(entry["max_seconds"], record["seconds"])
    return families


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds one proof may take (default 600)")
    parser.add_argument("--output", type=Path, default=RESULTS / "formal.json",
                        help="where to write the results (default bench/results/formal.json)")
    parser.add_argument("--family", action="append", default=[],
                        help="prove only this family (repeatable; default every family)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    records = []
    for case in cases():
        if args.family and case.family not in args.family:
            continue
        record = run_case(case, args.timeout)
        mark = "" if expected(record) else "  (unexpected)"
        print(f"{record['verdict']:>14}  {record['seconds']:8.2f} s  {record['core']}{mark}",
              flush=True)
        records.append(record)
    report = {"yosys": tool_version("yosys"), "python": platform.python_version(),
              "seconds": round(time.monotonic() - start, 1), "summary": summarize(records),
              "proofs": records}
    write_atomic(args.output, json.dumps(report, indent=1) + "\n")
    print(f"bench formal: {len(records)} proofs in {report['seconds']:.0f} s -> {args.output}")
    return 0 if all(expected(record) for record in records) else 1


if __name__ == "__main__":
    sys.exit(main())
