"""``qnnforge demo``: the whole flow end to end, with a report.

train -> export artifact -> generate Verilog -> verify in Verilator (every held-out sample, full
rate and with stalls) -> synthesize for iCE40 and Xilinx 7-series -> ``report.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.table import Table

from ..console import console, epoch_progress, step
from ..options import (add_hardware_options, add_training_options, design_folding,
                       fold_overrides, hardware_options, train_config)
from .generate import folding_table
from .verify import add_simulation_options, verify_on_digits

SYNTH_FABRICS = ("ice40", "xc7")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="train, export, generate, verify and synthesize, then report",
        description="Run the whole flow on scikit-learn's digits and write OUT/report.json.")
    parser.add_argument("--out", type=Path, default=Path("build/demo"),
                        help="output directory (default: %(default)s)")
    add_simulation_options(parser)
    add_training_options(parser)
    add_hardware_options(parser)
    parser.set_defaults(func=run)


def synthesize_all(verilog: Path, top: str, out: Path) -> tuple[dict, dict]:
    """Synthesize ``top`` for every demo fabric; return resource counts per fabric, and per
    fabric where they go (per layer and part, from a synthesis that keeps the hierarchy)."""
    from ..hw.tools.breakdown import resource_breakdown
    from ..hw.tools.synth import synthesize

    resources, breakdowns = {}, {}
    for fabric in SYNTH_FABRICS:
        with step(f"yosys synth for {fabric}"):
            result = synthesize(verilog, top, fabric, log=out / f"yosys-{fabric}.log")
        resources[fabric] = result.to_json()
        with step(f"yosys synth for {fabric}, per layer and part"):
            breakdowns[fabric] = resource_breakdown(verilog, top, fabric)
    return resources, breakdowns


def breakdown_table(breakdowns: dict) -> Table:
    """Return where the LUTs, flip-flops and block RAMs go, per layer and part and fabric."""
    table = Table(title="where the resources go (hierarchical synthesis: LUT / FF / BRAM)",
                  title_justify="left")
    table.add_column("unit")
    table.add_column("part")
    for fabric in breakdowns:
        table.add_column(fabric, justify="right")
    first = next(iter(breakdowns.values()))
    for unit, entry in first["units"].items():
        for part in entry["parts"]:
            cells = []
            for breakdown in breakdowns.values():
                counts = breakdown["units"][unit]["parts"].get(part)
                cells.append("-" if counts is None else
                             f"{counts['lut']} / {counts['ff']} / {counts['bram']}")
            table.add_row(unit, part, *cells)
    table.add_row("total", "", *(f"{b['total']['lut']} / {b['total']['ff']} / "
                                 f"{b['total']['bram']}" for b in breakdowns.values()))
    return table


def report_table(report: dict) -> Table:
    """Return the closing table of the demo."""
    table = Table(title="qnnforge demo", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("architecture", report["arch"]),
        ("precision per layer", ", ".join(report["precision"]["layers"])),
        ("test samples", report["test_samples"]),
        ("float accuracy", f"{report['float_accuracy']:.4f}"),
        ("quantized accuracy (PyTorch)", f"{report['quantized_accuracy']:.4f}"),
        ("integer reference accuracy", f"{report['reference_accuracy']:.4f}"),
        ("hardware accuracy (Verilator)", f"{report['hw_accuracy']:.4f}"),
        ("samples verified / mismatches", f"{report['samples_verified']} / "
                                          f"{report['mismatches']}"),
        ("cycles/inference measured (predicted)",
         f"{report['cycles_per_inference']:g} ({report['predicted_cycles_per_inference']})"),
        ("latency cycles measured (predicted)",
         f"{report['latency_cycles']} ({'' if report['latency_exact'] else '<= '}"
         f"{report['predicted_latency_cycles']})"),
    ]
    for fabric, counts in report["resources"].items():
        rows.append((f"{fabric} LUT / FF / carry / BRAM / DSP",
                     f"{counts['lut']} / {counts['ff']} / {counts['carry']} / "
                     f"{counts['bram']} / {counts['dsp']}"))
    if "lint_warnings" in report:
        warnings = report["lint_warnings"]
        rows.append(("verilator lint -Wall (unwaived)",
                     ", ".join(f"{n} {kind}" for kind, n in warnings.items()) or "none"))
    rows.append(("wall time", f"{report['wall_seconds']:.0f} s"))
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def run(args: argparse.Namespace) -> int:
    from ..sw.files import output_lock

    config, options = train_config(args), hardware_options(args)
    overrides = fold_overrides(args.fold)
    with output_lock(args.out):
        return run_demo(args, config, options, overrides)


def run_demo(args: argparse.Namespace, config, options, overrides) -> int:
    """Run the demo into ``args.out`` (locked by the caller) and print its report."""
    from ..hw.compiler.generate import generate
    from ..hw.tools.files import write_atomic
    from ..hw.tools.toolchain import run_environment
    from ..sim.lint import lint_verilog
    from ..sw.pipeline import train_and_export

    started = time.monotonic()
    out: Path = args.out
    artifact_path = out / "model"
    trained = train_and_export(config, stage_progress=epoch_progress)
    trained.artifact.save(artifact_path)
    console.print(f"wrote artifact {artifact_path}")
    folding = design_folding(trained.artifact, args.target_cycles, overrides)
    design = generate(trained.artifact, out / "hw", folding, options=options,
                      artifact_path=artifact_path)
    # The stalls follow the training seed, as they always have in the demo.
    verified = verify_on_digits(trained.artifact, design, out, stall=args.stall,
                                backpressure=args.backpressure, seed=config.seed)
    console.print(folding_table(design.summary))
    lint = lint_verilog(design.verilog)
    resources, breakdowns = synthesize_all(design.verilog, design.summary["top"], out / "hw")
    console.print(breakdown_table(breakdowns))
    report = {
        "arch": config.arch,
        "precision": config.precision_summary(),
        "test_samples": trained.test_samples,
        "float_accuracy": trained.float_accuracy,
        "quantized_accuracy": trained.quantized_accuracy,
        "reference_accuracy": trained.reference_accuracy,
        "hw_accuracy": verified["hw_accuracy"],
        "samples_verified": verified["samples"],
        "mismatches": verified["mismatches"] + verified["stalled_mismatches"],
        "cycles_per_inference": verified["cycles_per_inference"],
        "predicted_cycles_per_inference": verified["predicted_cycles_per_inference"],
        "latency_cycles": verified["latency_cycles"],
        "predicted_latency_cycles": verified["predicted_latency_cycles"],
        "latency_exact": design.summary["latency_exact"],
        "artifact": str(artifact_path),
        "verilog": verified["verilog"],
        "design": verified["design"],
        "folding": design.summary["folding"],
        "resources": resources,
        "breakdown": breakdowns,
        "lint_warnings": lint.counts(),
        "lint_waived": lint.counts(waived=True),
        "environment": run_environment(config.seed, ("yosys", "verilator"),
                                       torch_threads=trained.torch_threads),
        "wall_seconds": time.monotonic() - started,
    }
    write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    console.print(report_table(report))
    console.print(f"wrote {out / 'report.json'}")
    return 0
