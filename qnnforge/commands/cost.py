"""``qnnforge cost``: LUT, FF, carry, DSP and BRAM cost of MACs and dot products per precision."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich import box
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.progress import TimeElapsedColumn
from rich.table import Table

from ..console import console


def _list(kind):
    def parse(text: str) -> list:
        try:
            return [kind(item) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, not {text!r}")
    return parse


def register(subparsers) -> None:
    from ..hw.explore.cost import DEFAULT_CACHE, DEFAULT_LANES, DEFAULT_PRECISIONS
    from ..hw.tools.synth import FABRICS
    from ..hw.explore.xnor_popcount import ARCHITECTURES

    parser = subparsers.add_parser(
        "cost", help="synthesize MACs and dot products at every precision and compare",
        description="Synthesize, with Yosys, a MAC with its accumulator and N-lane dot products "
                    "for each precision and fabric, with and without DSP inference; report "
                    "LUT, FF, carry, DSP, BRAM, LUTs per lane and the ratio to 1-bit.")
    parser.add_argument("--fabric", type=_list(str), default=list(FABRICS),
                        help=f"comma-separated fabrics (default: {','.join(FABRICS)})")
    parser.add_argument("--bits", type=_list(str), default=list(DEFAULT_PRECISIONS),
                        help="comma-separated precisions: 1, ternary, 2..32 "
                             f"(default: {','.join(DEFAULT_PRECISIONS)})")
    parser.add_argument("--lanes", type=_list(int), default=list(DEFAULT_LANES),
                        help="comma-separated dot-product lanes (default: "
                             f"{','.join(map(str, DEFAULT_LANES))}); a MAC is always included")
    parser.add_argument("--dsp", choices=("off", "on", "both"), default="both",
                        help="DSP inference (default: %(default)s)")
    parser.add_argument("--architectures", type=_list(str), default=list(ARCHITECTURES),
                        help="popcount architectures of 1-bit dot products "
                             f"(default: {','.join(ARCHITECTURES)})")
    parser.add_argument("--json", type=Path, default=Path("build/cost/cost.json"),
                        help="JSON output (default: %(default)s)")
    parser.add_argument("--csv", type=Path, default=None,
                        help="CSV output (default: next to the JSON)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="PNG plot (default: next to the JSON)")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route 1-bit dot units on iCE40 UP5K for Fmax")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel Yosys processes (default: CPU count)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="synthesis cache (default: %(default)s)")
    parser.set_defaults(func=run)


def cost_table(records: list[dict]) -> Table:
    """Return the terminal table of the records (the Fmax column only where one was measured)."""
    timed = any("fmax_mhz" in r for r in records)
    table = Table(title="Precision cost (Yosys)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("fabric", "DSP", "precision", "lanes", "architecture", "LUT", "FF", "carry",
                   "DSP cells", "BRAM", "LUT/lane", "x 1-bit", "latency",
                   *(("Fmax MHz",) if timed else ())):
        table.add_column(column, justify="left" if column in ("fabric", "architecture")
                         else "right", no_wrap=True)
    for r in records:
        if "error" in r:
            table.add_row(r["fabric"], "on" if r["dsp_inference"] else "off", r["precision"],
                          str(r["lanes"]), r["architecture"], "[red]failed[/red]",
                          *[""] * (8 if timed else 7))
            continue
        table.add_row(r["fabric"], "on" if r["dsp_inference"] else "off", r["precision"],
                      "MAC" if r["kind"] == "mac" else str(r["lanes"]), r["architecture"],
                      str(r["lut"]), str(r["ff"]), str(r["carry"]), str(r["dsp"]),
                      str(r["bram"]), f"{r['lut_per_lane']:.3f}",
                      f"{r['ratio_to_1bit']:.1f}" if "ratio_to_1bit" in r else "",
                      str(r["latency"]),
                      *((f"{r['fmax_mhz']:.1f}" if "fmax_mhz" in r else "",) if timed else ()))
    return table


def print_wide(table: Table) -> None:
    """Print ``table`` at its natural width, even where the terminal (or a pipe's default of
    80 columns) is narrower: a long line wraps, where a squeezed table would cut its cells."""
    natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
    width = console.width
    console.width = max(width, natural)  # Console.print(width=) cannot exceed the console's
    try:
        console.print(table)
    finally:
        console.width = width


def tool_versions() -> dict:
    """Return the versions of the tools the figures depend on."""
    import amaranth

    from ..hw.tools.toolchain import ToolMissingError, tool_version

    versions = {"amaranth": amaranth.__version__}
    for tool in ("yosys", "nextpnr-ice40"):
        try:
            versions[tool] = tool_version(tool)
        except ToolMissingError:
            versions[tool] = "missing"
    return versions


def add_fmax(records: list[dict], progress=None) -> None:
    """Add ``fmax_mhz`` to the iCE40 1-bit dot-product records (nextpnr-ice40, UP5K)."""
    from ..hw.explore.cost import constant_weights
    from ..hw.explore.timing import ice40_fmax
    from ..hw.explore.xnor_popcount import XnorPopcount

    done: dict[tuple, float] = {}
    for record in records:
        if (record["fabric"], record["precision"], record["kind"]) != ("ice40", "1", "dot") \
                or "error" in record:
            continue
        key = (record["lanes"], record["architecture"])
        if key not in done:
            lanes, architecture = key
            unit = XnorPopcount(lanes, architecture, lut_inputs=4,
                                weights=(constant_weights(lanes) if architecture == "constant"
                                         else None))
            done[key] = ice40_fmax(unit)["fmax_mhz"]
            if progress is not None:
                progress()
        record["fmax_mhz"] = done[key]


def run(args: argparse.Namespace) -> int:
    from ..hw.explore.cost import run_sweep, sweep_jobs, write_csv, write_json, write_plot

    jobs = sweep_jobs(args.bits, args.lanes, args.fabric,
                      {"off": (False,), "on": (True,), "both": (False, True)}[args.dsp],
                      args.architectures)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("synthesizing", total=len(jobs))
        records = run_sweep(jobs, cache=args.cache, workers=args.jobs,
                            progress=lambda job, record: progress.advance(task))
        if args.fmax:
            timed = {(r["lanes"], r["architecture"]) for r in records
                     if (r["fabric"], r["precision"], r["kind"]) == ("ice40", "1", "dot")}
            fmax_task = progress.add_task("place & route (iCE40 UP5K)", total=len(timed))
            add_fmax(records, lambda: progress.advance(fmax_task))
    print_wide(cost_table(records))
    csv_path = args.csv or args.json.with_suffix(".csv")
    plot_path = args.plot or args.json.with_suffix(".png")
    write_json(records, args.json, tool_versions())
    write_csv(records, csv_path)
    write_plot(records, plot_path)
    console.print(f"wrote {args.json}, {csv_path} and {plot_path}")
    failed = [r for r in records if "error" in r]
    for record in failed:
        console.print(f"[red]yosys failed[/red] on {record['precision']}-bit, {record['lanes']} "
                      f"lanes, {record['fabric']} (log: {record['log']}):\n{record['error']}",
                      markup=False)
    return 1 if failed else 0
