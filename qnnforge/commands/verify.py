"""``qnnforge verify``: simulate the generated Verilog in Verilator, bit-exact vs the reference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..console import console, key_value_table, step
from .generate import add_folding_options, generate_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="verify the accelerator bit-exactly in cocotb + Verilator",
        description="Generate the accelerator for ARTIFACT (or use --design), simulate it on "
                    "the held-out digits at full rate and with random stalls and backpressure, "
                    "and compare every layer's outputs with the integer reference.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--out", type=Path, default=Path("build/verify"),
                        help="working and report directory (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=None,
                        help="verify only the first N held-out samples (default: all)")
    parser.add_argument("--stall", type=float, default=0.3,
                        help="probability of an idle input cycle in the stalled run")
    parser.add_argument("--backpressure", type=float, default=0.3,
                        help="probability of a not-ready output cycle in the stalled run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random stalls")
    add_folding_options(parser)
    parser.set_defaults(func=run)


def verify_from_args(args: argparse.Namespace, artifact_path: Path, out: Path) -> dict:
    """Generate, simulate and compare; return the measured figures (raises on mismatch)."""
    from ..sim.verify import verify_network
    from ..sw.data import load_digits_split

    artifact, design = generate_from_args(args, artifact_path, out / "hw")
    split = load_digits_split()
    samples = len(split.x_test) if args.samples is None else args.samples
    if not 1 <= samples <= len(split.x_test):
        raise ValueError(f"samples must lie in 1..{len(split.x_test)}, not {samples}")
    codes = artifact.input.quantize(split.x_test[:samples])
    with step(f"Verilator: {samples} samples at full rate and with stalls/backpressure"):
        result = verify_network(artifact, design, codes, out / "sim", stall=args.stall,
                                backpressure=args.backpressure, seed=args.seed)
    predicted_cycles = design.summary["cycles_per_inference"]
    report = {
        **result.to_json(),
        "hw_accuracy": float(np.mean(result.classes == split.y_test[:samples])),
        "predicted_cycles_per_inference": predicted_cycles,
        "predicted_latency_cycles": design.summary["latency_cycles"],
        "cycles_deviation": abs(result.cycles_per_inference - predicted_cycles)
        / predicted_cycles,
        "verilog": str(design.verilog), "design": str(design.summary_path),
    }
    (out / "verify.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def run(args: argparse.Namespace) -> int:
    report = verify_from_args(args, args.artifact, args.out)
    console.print(key_value_table("verification (bit-exact against the integer reference)", [
        ("samples verified", report["samples"]), ("mismatches", report["mismatches"]),
        ("mismatches with stalls", report["stalled_mismatches"]),
        ("hardware accuracy", report["hw_accuracy"]),
        ("cycles/inference (measured)", report["cycles_per_inference"]),
        ("cycles/inference (predicted)", report["predicted_cycles_per_inference"]),
        ("latency cycles (measured)", report["latency_cycles"]),
    ]))
    return 0
