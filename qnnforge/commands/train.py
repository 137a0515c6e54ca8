"""``qnnforge train``: quantization-aware training on the digits, then export the artifact."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..console import console, epoch_progress, key_value_table


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden widths must be comma-separated integers, not {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"hidden widths must be positive, not {text!r}")
    return widths


def _layer_precision(text: str) -> tuple[int, str]:
    from ..sw.precision import PRECISIONS, parse_layer_precision

    try:
        (index, name), = parse_layer_precision([text]).items()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if name not in PRECISIONS:
        raise argparse.ArgumentTypeError(f"precision must be one of {', '.join(PRECISIONS)}, "
                                         f"not {name!r}")
    return index, name


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by ``train`` and ``demo``."""
    from ..sw.config import TrainConfig
    from ..sw.precision import PRESETS

    defaults = TrainConfig()
    group = parser.add_argument_group("training")
    group.add_argument("--precision", choices=tuple(PRESETS), default=defaults.precision,
                       help="weights/activations of every layer; mixed = int8 first, ternary "
                            "hidden, int8 last (default: %(default)s)")
    group.add_argument("--layer-precision", type=_layer_precision, action="append", default=[],
                       metavar="LAYER=PRECISION",
                       help="override one layer's precision, e.g. --layer-precision 1=int4 "
                            "(repeatable)")
    group.add_argument("--hidden", type=_widths, default=defaults.hidden, metavar="W1,W2,...",
                       help="hidden layer widths (default: 128,128)")
    group.add_argument("--epochs", type=int, default=defaults.epochs,
                       help="training epochs (default: %(default)s)")
    group.add_argument("--input-bits", type=int, default=defaults.input_bits,
                       help="bits of the unsigned fixed-point input (default: %(default)s)")
    group.add_argument("--seed", type=int, default=defaults.seed,
                       help="random seed (default: %(default)s)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the quantized MLP on the digits and write the model artifact",
        description="Train a quantized MLP (binary by default: fixed-point input x binary "
                    "weights, binary hidden layers, integer scores; or ternary/int2/int4/int8/"
                    "mixed precision per layer) on scikit-learn's digits, check the integer "
                    "reference against the quantized model, and write the artifact.")
    parser.add_argument("--out", type=Path, default=Path("build/model"),
                        help="artifact directory to write (default: %(default)s)")
    add_training_options(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Trained:
    """Outcome of training: the artifact path and the accuracies on the test split."""

    path: Path
    test_samples: int
    float_accuracy: float
    quantized_accuracy: float
    reference_accuracy: float
    precision: dict | None = None


def train_and_export(args: argparse.Namespace, out: Path) -> Trained:
    """Train the float baseline and the binarized model, export, check the reference."""
    import torch

    from ..sw import reference
    from ..sw.data import load_digits_split
    from ..sw.export import export_artifact, export_quant_artifact, quantized_predict
    from ..sw.config import TrainConfig
    from ..sw.train import train_float_baseline, train_quantized

    # The models are tiny: one thread is as fast as two and never oversubscribes a busy machine.
    torch.set_num_threads(1)
    config = TrainConfig(hidden=tuple(args.hidden), epochs=args.epochs,
                         input_bits=args.input_bits, seed=args.seed,
                         precision=getattr(args, "precision", "binary"),
                         layer_precision=tuple(getattr(args, "layer_precision", [])))
    precision = {"preset": config.precision,
                 "layers": [p.name for p in config.layer_precisions()]}
    split = load_digits_split()
    with epoch_progress("float baseline", config.epochs) as update:
        float_accuracy = train_float_baseline(split, config, update)
    label = "binarized QAT" if config.all_binary else f"{config.precision} QAT"
    with epoch_progress(label, config.epochs) as update:
        result = train_quantized(split, config, update)
    codes = result.quantizer.quantize(split.x_test)
    quantized = quantized_predict(result.model, codes)
    metadata = {
        "dataset": "sklearn.datasets.load_digits, stratified 80/20 split, random_state=0",
        "test_samples": int(len(split.y_test)), "float_accuracy": float_accuracy,
        "quantized_accuracy": result.quantized_accuracy,
        "training": {"hidden": list(config.hidden), "epochs": config.epochs,
                     "input_bits": config.input_bits, "seed": config.seed},
    }
    if config.all_binary:
        artifact = export_artifact(result.model, result.quantizer, "digits-binarized-mlp",
                                   metadata)
    else:
        metadata["training"]["precision"] = precision
        artifact = export_quant_artifact(result.model, result.quantizer,
                                         f"digits-{config.precision}-mlp", metadata)
    predicted = reference.run(artifact, codes).classes
    disagreements = int(np.sum(predicted != quantized))
    if disagreements:
        raise AssertionError(f"the integer reference disagrees with the quantized model on "
                             f"{disagreements} of {len(codes)} test samples")
    artifact.save(out)
    return Trained(out, len(split.y_test), float_accuracy, result.quantized_accuracy,
                   float(np.mean(predicted == split.y_test)), precision)


def run(args: argparse.Namespace) -> int:
    trained = train_and_export(args, args.out)
    console.print(key_value_table(f"trained -> {trained.path}", [
        ("test samples", trained.test_samples),
        ("float accuracy", trained.float_accuracy),
        ("quantized accuracy", trained.quantized_accuracy),
        ("integer reference accuracy", trained.reference_accuracy),
        ("precision per layer", ", ".join(trained.precision["layers"])),
    ]))
    return 0
