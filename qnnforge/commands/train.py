"""``qnnforge train``: quantization-aware training on the digits, then export the artifact."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..console import console, epoch_progress, key_value_table
from ..options import add_training_options, train_config


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the quantized MLP or CNN on the digits and write the model artifact",
        description="Train a quantized MLP or CNN (--arch; binary by default: fixed-point input "
                    "x binary weights, binary hidden layers, integer scores; or ternary/int2/"
                    "int4/int8/mixed precision per layer) on scikit-learn's digits, check the "
                    "integer reference against the quantized model, and write the artifact "
                    "and, beside its files, train.json (accuracies, seed, threads, versions).")
    parser.add_argument("--out", type=Path, default=Path("build/model"),
                        help="artifact directory to write (default: %(default)s)")
    add_training_options(parser)
    parser.set_defaults(func=run)


def trained_table(trained, path: Path):
    """Return the table of a :class:`~qnnforge.sw.pipeline.TrainedArtifact` written to ``path``."""
    return key_value_table(f"trained -> {path}", [
        ("test samples", trained.test_samples),
        ("float accuracy", trained.float_accuracy),
        ("quantized accuracy", trained.quantized_accuracy),
        ("integer reference accuracy", trained.reference_accuracy),
        ("precision per layer", ", ".join(trained.config.precision_summary()["layers"])),
    ])


def train_report(trained) -> dict:
    """Return the JSON-able report of a :class:`~qnnforge.sw.pipeline.TrainedArtifact`:
    accuracies, precision and the run's environment (seed, torch threads, versions)."""
    from ..hw.tools.toolchain import run_environment

    return {"test_samples": trained.test_samples, "float_accuracy": trained.float_accuracy,
            "quantized_accuracy": trained.quantized_accuracy,
            "reference_accuracy": trained.reference_accuracy,
            "precision": trained.config.precision_summary(),
            "environment": run_environment(trained.config.seed,
                                           torch_threads=trained.torch_threads)}


def run(args: argparse.Namespace) -> int:
    from ..sw.files import output_lock, write_atomic
    from ..sw.pipeline import train_and_export

    config = train_config(args)
    with output_lock(args.out):
        trained = train_and_export(config, stage_progress=epoch_progress)
        trained.artifact.save(args.out)
        write_atomic(args.out / "train.json", json.dumps(train_report(trained), indent=2) + "\n")
    console.print(trained_table(trained, args.out))
    return 0
