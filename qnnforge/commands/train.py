"""``qnnforge train``: quantization-aware training on the digits, then export the artifact."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console, epoch_progress, key_value_table
from ..options import add_training_options, train_config


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the quantized MLP or CNN on the digits and write the model artifact",
        description="Train a quantized MLP or CNN (--arch; binary by default: fixed-point input "
                    "x binary weights, binary hidden layers, integer scores; or ternary/int2/"
                    "int4/int8/mixed precision per layer) on scikit-learn's digits, check the "
                    "integer reference against the quantized model, and write the artifact.")
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


def run(args: argparse.Namespace) -> int:
    from ..sw.pipeline import train_and_export

    trained = train_and_export(train_config(args), stage_progress=epoch_progress)
    trained.artifact.save(args.out)
    console.print(trained_table(trained, args.out))
    return 0
