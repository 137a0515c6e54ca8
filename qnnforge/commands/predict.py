"""``qnnforge predict``: the classes of your own inputs, from the reference or the hardware."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console, step
from ..options import add_hardware_options, design_folding, fold_overrides, hardware_options


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="classify a .npy batch of inputs (reference or hardware)",
        description="Read a batch of inputs as the model takes them (a .npy of shape (n, "
                    "features): for a qnnforge-trained artifact the raw features, e.g. the "
                    "digits' pixels 0..16, an image flat and channels-last), apply the "
                    "artifact's input rule and write the integer reference's classes (int64 "
                    ".npy). With --hardware, generate the design and take the classes it "
                    "computes in Verilator, failing on any difference from the reference.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--inputs", type=Path, required=True, help="the .npy batch of inputs")
    parser.add_argument("--out", type=Path, required=True,
                        help="the .npy file of classes to write (replaced atomically)")
    parser.add_argument("--hardware", action="store_true",
                        help="run the generated design in Verilator (checked against the "
                             "reference on every layer)")
    parser.add_argument("--work", type=Path, default=Path("build/predict"),
                        help="where --hardware generates and simulates (default: %(default)s)")
    add_hardware_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sim.predict import hardware_classes, load_inputs, reference_classes, save_classes
    from ..sw.artifact import load_artifact

    artifact = load_artifact(args.artifact)
    codes = load_inputs(artifact, args.inputs)
    if args.hardware:
        from ..hw.compiler.generate import generate

        options, overrides = hardware_options(args), fold_overrides(args.fold)
        folding = design_folding(artifact, args.target_cycles, overrides)
        design = generate(artifact, args.work / "hw", folding, options=options,
                          artifact_path=args.artifact)
        with step(f"Verilator: {len(codes)} inputs, every layer checked against the reference"):
            classes = hardware_classes(artifact, design, codes, args.work / "sim")
        source = "hardware (Verilator, equal to the reference)"
    else:
        classes = reference_classes(artifact, codes)
        source = "integer reference"
    path = save_classes(args.out, classes)
    console.print(f"wrote {path}: {len(classes)} classes from the {source}", soft_wrap=True)
    return 0
