"""``qnnforge generate``: Amaranth accelerator -> Verilog and a design summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..console import console


def add_folding_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that shape the hardware: folding, DSPs, popcount (shared by generate,
    verify and demo)."""
    from ..hw.compiler.folding import DEFAULT_TARGET_CYCLES

    group = parser.add_argument_group("hardware")
    group.add_argument("--target-cycles", type=int, default=DEFAULT_TARGET_CYCLES,
                       help="cycles per inference the default folding aims for "
                            "(default: %(default)s)")
    group.add_argument("--fold", action="append", default=[], metavar="LAYER:PExSIMD",
                       help="set one layer's folding, e.g. --fold 1:8x16 (repeatable)")
    group.add_argument("--no-dsp", dest="dsp", action="store_false",
                       help="build fixed-point multipliers from LUTs (shift-add) instead of "
                            "letting the synthesizer infer DSP blocks")
    group.add_argument("--popcount", choices=("adder_tree", "compressor"), default="adder_tree",
                       help="popcount of XNOR layers: adder tree, or the compressor tree of "
                            "carry chains and LUT counters (default: %(default)s)")
    group.add_argument("--lut-inputs", type=int, choices=(4, 5, 6), default=6,
                       help="LUT size the compressor popcount is built for: 6 for Xilinx "
                            "7-series, 4 for iCE40 and ECP5 (default: %(default)s)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate the accelerator's Verilog and design summary",
        description="Build the dataflow accelerator for ARTIFACT in Amaranth and write "
                    "<top>.v plus design.json (folding, memories, cycle model).")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--out", type=Path, default=Path("build/hw"),
                        help="output directory (default: %(default)s)")
    parser.add_argument("--top", default="qnnforge_top", help="top module name")
    add_folding_options(parser)
    parser.set_defaults(func=run)


def generate_from_args(args: argparse.Namespace, artifact_path: Path, out: Path):
    """Load the artifact and generate its design with the folding options in ``args``."""
    from ..hw.compiler.folding import parse_folding
    from ..hw.compiler.generate import generate
    from ..hw.compiler.options import HardwareOptions
    from ..sw.artifact import load_artifact

    artifact = load_artifact(artifact_path)
    options = HardwareOptions(dsp=getattr(args, "dsp", True),
                              popcount=getattr(args, "popcount", "adder_tree"),
                              lut_inputs=getattr(args, "lut_inputs", 6))
    return artifact, generate(artifact, out, target_cycles=args.target_cycles, options=options,
                              overrides=parse_folding(args.fold),
                              top=getattr(args, "top", "qnnforge_top"),
                              artifact_path=artifact_path)


def folding_table(summary: dict) -> Table:
    """Return a table of the per-layer folding and cycle model."""
    table = Table(title=f"{summary['top']}: {summary['cycles_per_inference']} cycles/inference "
                        f"(bottleneck {summary['bottleneck']}), latency "
                        f"{summary['latency_cycles']} cycles", title_justify="left")
    for column in ("layer", "K x N", "dot", "PE", "SIMD", "cycles", "acc bits", "weight bits"):
        table.add_column(column, justify="left" if column in ("layer", "dot") else "right")
    for layer in summary["layers"]:
        table.add_row(layer["name"], f"{layer['fan_in']} x {layer['fan_out']}", layer["dot"],
                      str(layer["pe"]), str(layer["simd"]), str(layer["cycles_per_vector"]),
                      str(layer["accumulator_bits"]), str(layer["weight_memory"]["bits"]))
    return table


def run(args: argparse.Namespace) -> int:
    _, design = generate_from_args(args, args.artifact, args.out)
    console.print(folding_table(design.summary))
    console.print(f"wrote {design.verilog} and {design.summary_path}")
    return 0
