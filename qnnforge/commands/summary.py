"""``qnnforge summary``: per layer and in total, what a model costs: params, bits, BOPs, memory,
cycles and estimated LUT/FF/BRAM/DSP per fabric, from the artifact alone."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich import box
from rich.table import Table

from ..console import console
from ..errors import UsageError
from ..options import add_hardware_options, design_folding, fold_overrides, hardware_options
from .cost import print_wide

DEFAULT_FABRICS = ("ice40", "xc7")


def _fabrics(text: str) -> tuple[str, ...]:
    from ..hw.tools.fabrics import FABRICS

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in FABRICS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"fabrics must be comma-separated names of "
                                         f"{', '.join(FABRICS)}, not {text!r}")
    return tuple(dict.fromkeys(names))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary", help="per-layer params, bits, BOPs, memory, cycles and estimated resources",
        description="Summarize ARTIFACT per layer and in total: kind, shapes, encodings, params, "
                    "weight and activation bits, MACs and BOPs (MACs x weight bits x input "
                    "bits), the on-chip memory bits and cycles of the accelerator for the "
                    "folding, and its LUT/FF/BRAM/DSP estimated per fabric by the calibrated "
                    "cost model (no synthesis). Where a report of the same design's synthesis "
                    "is found (--report, or report.json beside the artifact as the demo writes "
                    "it), the estimate's error against it is shown.")
    parser.add_argument("artifact", type=Path, help="model artifact directory")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the summary as JSON to this file")
    parser.add_argument("--fabric", type=_fabrics, default=DEFAULT_FABRICS,
                        help=f"comma-separated fabrics to estimate (default: "
                             f"{','.join(DEFAULT_FABRICS)})")
    parser.add_argument("--report", type=Path, default=None,
                        help="a demo's report.json (qnnforge demo) whose Yosys resources the "
                             "estimate is compared with (default: report.json beside the "
                             "artifact, if there is one for the same folding)")
    add_hardware_options(parser)
    parser.set_defaults(func=run)


def _encodings(layer: dict) -> str:
    weights = f" x {layer['weight_encoding']}" if layer["weight_encoding"] else ""
    return f"{layer['input_encoding']}{weights} -> {layer['output_encoding']}"


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape))


def summary_table(summary: dict) -> Table:
    """Return the per-layer table of a summary, its totals last."""
    totals = summary["totals"]
    table = Table(title=f"{totals['cycles_per_inference']} cycles/inference (bottleneck "
                        f"{totals['bottleneck']}), latency {totals['latency_cycles']} cycles"
                        f"{'' if totals['latency_exact'] else ' (bound)'}",
                  title_justify="left", box=box.SIMPLE_HEAD)
    columns = ["layer", "op", "in -> out", "encodings", "params", "weight bits", "act bits",
               "BOPs", "memory bits", "PE x SIMD", "cycles"]
    columns += [f"{fabric} LUT/FF/BRAM/DSP" for fabric in summary["fabrics"]]
    for column in columns:
        table.add_column(column, justify="left" if column in ("layer", "op", "encodings")
                         else "right", no_wrap=column != "encodings")

    def resources(estimate: dict) -> str:
        return "/".join(str(estimate[key]) for key in ("lut", "ff", "bram", "dsp"))

    for layer in summary["layers"]:
        table.add_row(layer["name"], layer["op"],
                      f"{_shape(layer['in_shape'])} -> {_shape(layer['out_shape'])}",
                      _encodings(layer), str(layer["params"]), str(layer["weight_bits"]),
                      str(layer["activation_bits"]), str(layer["bops"]),
                      str(layer["memory_bits"]["total"]), f"{layer['pe']} x {layer['simd']}",
                      str(layer["cycles"]),
                      *(resources(layer["estimated"][fabric]) for fabric in summary["fabrics"]))
    table.add_section()
    table.add_row("total", "", "", "", str(totals["params"]), str(totals["weight_bits"]),
                  str(totals["activation_bits"]), str(totals["bops"]),
                  str(totals["memory_bits"]["total"]), "", str(totals["cycles_per_inference"]),
                  *(resources(totals["estimated"][fabric]) for fabric in summary["fabrics"]))
    return table


def measured_table(summary: dict) -> Table:
    """Return the estimated totals beside the measured ones, with the error, per fabric."""
    table = Table(title="estimate against the synthesis report", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for column in ("fabric", "resource", "estimated", "measured", "error"):
        table.add_column(column, justify="left" if column in ("fabric", "resource") else "right")
    for fabric, found in summary["totals"]["measured"].items():
        for key, error in found["error"].items():
            table.add_row(fabric, key.upper(), str(summary["totals"]["estimated"][fabric][key]),
                          str(found["measured"][key]),
                          "-" if error is None else f"{100 * error:+.1f} %")
    return table


def _report(args: argparse.Namespace, folding) -> dict | None:
    """Return the synthesis report to compare with: ``--report``, or one beside the artifact
    for the same folding (none if there is none, or it is of another folding).

    Raises
    ------
    UsageError
        If the report is missing (given by ``--report``), not JSON, has no ``resources``, or
        (given) is of another folding.
    """
    given = args.report is not None
    path = args.report if given else args.artifact.parent / "report.json"
    name = f"--report {path}" if given else str(path)
    if not path.is_file():
        if given:
            raise UsageError(f"{name}: no such file")
        return None
    try:
        report = json.loads(path.read_text())
    except ValueError as error:
        raise UsageError(f"{name}: not JSON ({error})") from None
    if not isinstance(report, dict) or not isinstance(report.get("resources"), dict):
        raise UsageError(f"{name}: has no 'resources' (the report.json of qnnforge demo has)")
    if report.get("folding") != folding.to_json():
        if given:
            raise UsageError(f"{name}: its folding {report.get('folding')} is not the "
                             f"summary's {folding.to_json()}")
        return None
    return report


def run(args: argparse.Namespace) -> int:
    from ..hw.explore.summary import compare, model_summary
    from ..sw.artifact import load_artifact
    from ..sw.files import write_output_file

    options, overrides = hardware_options(args), fold_overrides(args.fold)
    artifact = load_artifact(args.artifact)
    folding = design_folding(artifact, args.target_cycles, overrides)
    summary = model_summary(artifact, folding, args.fabric, options)
    summary["artifact"] = str(args.artifact)
    report = _report(args, folding)
    if report is not None:
        summary["totals"]["measured"] = compare(summary, report)
    print_wide(summary_table(summary))
    if summary["totals"].get("measured"):
        console.print(measured_table(summary))
    if args.json is not None:
        write_output_file(args.json, (json.dumps(summary, indent=2) + "\n").encode(), UsageError)
        console.print(f"wrote {args.json}")
    return 0
