"""``qnnforge generate``: Amaranth accelerator -> Verilog and a design summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..console import console
from ..options import (add_hardware_options, design_folding, fold_overrides,
                       hardware_options)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate the accelerator's Verilog and design summary",
        description="Build the dataflow accelerator for ARTIFACT in Amaranth and write "
                    "<top>.v plus design.json (folding, memories, cycle model).")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--out", type=Path, default=Path("build/hw"),
                        help="output directory (default: %(default)s)")
    add_hardware_options(parser, top=True)
    parser.set_defaults(func=run)


def folding_table(summary: dict) -> Table:
    """Return a table of the per-layer folding and cycle model."""
    table = Table(title=f"{summary['top']}: {summary['cycles_per_inference']} cycles/inference "
                        f"(bottleneck {summary['bottleneck']}), latency "
                        f"{summary['latency_cycles']} cycles", title_justify="left")
    for column in ("layer", "K x N", "dot", "PE", "SIMD", "cycles", "acc bits", "weight bits"):
        table.add_column(column, justify="left" if column in ("layer", "dot") else "right")
    for layer in summary["layers"]:
        if "fan_in" in layer:  # a matrix-vector unit (dense, or a convolution's windows)
            matrix = f"{layer['fan_in']} x {layer['fan_out']}"
            details = (layer["dot"], str(layer["accumulator_bits"]),
                       str(layer["weight_memory"]["bits"]))
        else:
            matrix = f"{layer['op']} {'x'.join(map(str, layer['kernel']))}"
            details = ("max", "-", "-")
        table.add_row(layer["name"], matrix, details[0], str(layer["pe"]), str(layer["simd"]),
                      str(layer["cycles"]), *details[1:])
    return table


def run(args: argparse.Namespace) -> int:
    from ..hw.compiler.generate import generate
    from ..sw.artifact import load_artifact
    from ..sw.files import output_lock

    options, overrides = hardware_options(args), fold_overrides(args.fold)
    with output_lock(args.out):
        artifact = load_artifact(args.artifact)
        folding = design_folding(artifact, args.target_cycles, overrides)
        design = generate(artifact, args.out, folding, options=options, top=args.top,
                          artifact_path=args.artifact)
    console.print(folding_table(design.summary))
    console.print(f"wrote {design.verilog} and {design.summary_path}")
    return 0
