"""``qnnforge import``: a QONNX model (as Brevitas exports it) -> a model artifact."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..console import console


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import", help="import a QONNX model (Brevitas's export_qonnx) as a model artifact",
        description="Read MODEL (QONNX, as brevitas.export.export_qonnx or qnnforge export "
                    "writes it), fold its scales, batch-norms and activation quantizers into "
                    "exact integer thresholds, and write the artifact. Every node that has no "
                    "exact integer form is listed in one error, and nothing is written.")
    parser.add_argument("model", type=Path, help="QONNX .onnx file")
    parser.add_argument("--out", type=Path, default=Path("build/imported"),
                        help="artifact directory to write (default: %(default)s)")
    parser.add_argument("--name", default=None,
                        help="artifact name (default: the model's own, else the file name)")
    parser.set_defaults(func=run)


def layer_table(artifact, path: Path) -> Table:
    """Return the table of the imported layers."""
    table = Table(title=f"imported {artifact.name} -> {path}", title_justify="left")
    for column in ("layer", "op", "in", "out", "input", "weights", "output"):
        table.add_column(column, justify="left" if column in ("layer", "op") else "right")
    for layer in artifact.layers:
        weights = getattr(layer, "weight_encoding", None)
        output = layer.output.kind if layer.output is not None else "-"
        table.add_row(layer.name, layer.op, "x".join(map(str, layer.in_shape)),
                      "x".join(map(str, layer.out_shape)), str(layer.input_encoding),
                      str(weights) if weights is not None else "-", output)
    return table


def run(args: argparse.Namespace) -> int:
    from ..sw.qonnx.importer import import_qonnx

    artifact = import_qonnx(args.model, name=args.name)
    artifact.save(args.out)
    console.print(layer_table(artifact, args.out))
    console.print(f"input rule: {artifact.input.kind}, {artifact.input.encoding} codes from "
                  f"inputs of shape {list(artifact.input.raw_shape or [artifact.in_features])}")
    return 0
