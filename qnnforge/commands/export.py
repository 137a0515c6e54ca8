"""``qnnforge export``: write an artifact as a QONNX model that QONNX's executor runs exactly."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import console

FORMATS = ("qonnx",)
"""The formats ``--format`` takes (:mod:`qnnforge.sw.qonnx.exporter` writes them)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write an artifact as a QONNX model",
        description="Write ARTIFACT as a QONNX model (ONNX opset 13 with QONNX's Quant, "
                    "BipolarQuant and MultiThreshold) that computes the integer reference's "
                    "class scores exactly in QONNX's executor; parts whose integers float32 "
                    "cannot hold exactly are computed in float64.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--format", choices=FORMATS, default="qonnx",
                        help="output format (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True,
                        help="the model file to write (replaced atomically)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sw.artifact import load_artifact
    from ..sw.qonnx.exporter import export_qonnx, float64_parts

    artifact = load_artifact(args.artifact)
    path, model = export_qonnx(artifact, args.out)
    parts = float64_parts(model)
    console.print(f"wrote {path} (QONNX, {len(model.graph.node)} nodes; float64 parts: "
                  f"{', '.join(parts) if parts else 'none'})", soft_wrap=True)
    return 0
