"""``qnnforge verify``: simulate the generated Verilog in Verilator, bit-exact vs the reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..console import console, key_value_table, step
from ..errors import UsageError
from ..options import (add_hardware_options, design_folding, fold_overrides,
                       hardware_options, positive_integer, probability)


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """Add the stall and backpressure probabilities of the stalled run (verify and demo)."""
    parser.add_argument("--stall", type=probability, default=0.3,
                        help="probability of an idle input cycle in the stalled run")
    parser.add_argument("--backpressure", type=probability, default=0.3,
                        help="probability of a not-ready output cycle in the stalled run")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="verify the accelerator bit-exactly in cocotb + Verilator",
        description="Generate the accelerator for ARTIFACT (or use --design), simulate it on "
                    "the held-out digits at full rate and with random stalls and backpressure, "
                    "and compare every layer's outputs with the integer reference.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--out", type=Path, default=Path("build/verify"),
                        help="working and report directory (default: %(default)s)")
    parser.add_argument("--samples", type=positive_integer, default=None,
                        help="verify only the first N held-out samples (default: all)")
    add_simulation_options(parser)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random stalls")
    add_hardware_options(parser)
    parser.set_defaults(func=run)


def held_out_codes(artifact, x: np.ndarray) -> np.ndarray:
    """Return the input codes of held-out digits ``x`` under the artifact's input rule.

    Raises
    ------
    UsageError
        If the rule does not take the digits (an imported model of other inputs).
    """
    try:
        return artifact.input.quantize(x)
    except (TypeError, ValueError) as error:
        raise UsageError(f"the artifact's input rule does not take the held-out digits "
                         f"({error}); run it on your own inputs with qnnforge predict "
                         f"--hardware") from None


def verify_on_digits(artifact, design, out: Path, *, samples: int | None = None,
                     stall: float = 0.3, backpressure: float = 0.3, seed: int = 1) -> dict:
    """Simulate ``design`` on the held-out digits, compare with the reference, write the report.

    Returns the measured figures, also written to ``out / "verify.json"``.

    Raises
    ------
    UsageError
        If ``samples`` exceeds the held-out split.
    """
    from ..hw.tools.files import write_atomic
    from ..hw.tools.toolchain import run_environment
    from ..sim.verify import verify_network
    from ..sw.data import load_digits_split

    split = load_digits_split()
    samples = len(split.x_test) if samples is None else samples
    if not 1 <= samples <= len(split.x_test):
        raise UsageError(f"samples must lie in 1..{len(split.x_test)}, not {samples}")
    codes = held_out_codes(artifact, split.x_test[:samples])
    with step(f"Verilator: {samples} samples at full rate and with stalls/backpressure"):
        result = verify_network(artifact, design, codes, out / "sim", stall=stall,
                                backpressure=backpressure, seed=seed)
    predicted_cycles = design.summary["cycles_per_inference"]
    report = {
        **result.to_json(),
        "hw_accuracy": float(np.mean(result.classes == split.y_test[:samples])),
        "predicted_cycles_per_inference": predicted_cycles,
        "predicted_latency_cycles": design.summary["latency_cycles"],
        "cycles_deviation": abs(result.cycles_per_inference - predicted_cycles)
        / predicted_cycles,
        "verilog": str(design.verilog), "design": str(design.summary_path),
        "environment": run_environment(seed, ("verilator",)),
    }
    write_atomic(out / "verify.json", json.dumps(report, indent=2) + "\n")
    return report


def run(args: argparse.Namespace) -> int:
    from ..hw.compiler.generate import generate
    from ..sw.artifact import load_artifact
    from ..sw.files import output_lock

    options, overrides = hardware_options(args), fold_overrides(args.fold)
    with output_lock(args.out):
        artifact = load_artifact(args.artifact)
        folding = design_folding(artifact, args.target_cycles, overrides)
        design = generate(artifact, args.out / "hw", folding, options=options,
                          artifact_path=args.artifact)
        report = verify_on_digits(artifact, design, args.out, samples=args.samples,
                                  stall=args.stall, backpressure=args.backpressure,
                                  seed=args.seed)
    console.print(key_value_table("verification (bit-exact against the integer reference)", [
        ("samples verified", report["samples"]), ("mismatches", report["mismatches"]),
        ("mismatches with stalls", report["stalled_mismatches"]),
        ("hardware accuracy", report["hw_accuracy"]),
        ("cycles/inference (measured)", report["cycles_per_inference"]),
        ("cycles/inference (predicted)", report["predicted_cycles_per_inference"]),
        ("latency cycles (measured)", report["latency_cycles"]),
    ]))
    return 0
