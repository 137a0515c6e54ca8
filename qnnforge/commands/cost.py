"""``qnnforge cost``: LUT, FF, carry, DSP and BRAM cost of MACs and dot products per precision.

Parses the sweep, runs it with :mod:`qnnforge.hw.explore` and prints the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich import box
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.progress import TimeElapsedColumn
from rich.table import Table

from ..console import console
from ..errors import usage_errors
from ..options import add_scheduler_option, positive_integer


def _list(kind):
    def parse(text: str) -> list:
        items = [item for item in text.split(",") if item.strip()]
        try:
            return [kind(item) for item in items]
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def _choice(choices):
    def check(name: str) -> str:
        name = name.strip()
        if name not in choices:
            raise ValueError(f"{name!r} is not one of {', '.join(choices)}")
        return name
    return check


def register(subparsers) -> None:
    from ..hw.explore.cost import (ARCHITECTURES, DEFAULT_ARCHITECTURES, DEFAULT_CACHE,
                                   DEFAULT_LANES, DEFAULT_PRECISIONS)
    from ..hw.explore.designs import parse_pair, parse_precision
    from ..hw.tools.fabrics import FABRICS

    parser = subparsers.add_parser(
        "cost", help="synthesize MACs and dot products at every precision and compare",
        description="Synthesize, with Yosys, the accelerator's dot units (N lanes) and a MAC "
                    "around its one-lane unit for each precision and fabric, with and without "
                    "DSP inference; report LUT, FF, carry, DSP, BRAM, LUTs per lane and the "
                    "ratio to 1-bit.")
    parser.add_argument("--fabric", type=_list(_choice(tuple(FABRICS))), default=list(FABRICS),
                        help=f"comma-separated fabrics (default: {','.join(FABRICS)})")
    parser.add_argument("--bits", type=_list(parse_pair),
                        default=[(e, e) for e in map(parse_precision, DEFAULT_PRECISIONS)],
                        help="comma-separated precisions of both operands: 1 (bipolar), "
                             "ternary, 2..32 (signed), u1..u32 (unsigned), cb1..cb7 (codebook "
                             "weights); or pairs ACTIVATIONSxWEIGHTS, e.g. 8xcb4 "
                             f"(default: {','.join(DEFAULT_PRECISIONS)})")
    parser.add_argument("--lanes", type=_list(int), default=list(DEFAULT_LANES),
                        help="comma-separated dot-product lanes (default: "
                             f"{','.join(map(str, DEFAULT_LANES))}); a MAC is always included")
    parser.add_argument("--dsp", choices=("off", "on", "both"), default="both",
                        help="DSP inference (default: %(default)s)")
    parser.add_argument("--architectures", type=_list(_choice(ARCHITECTURES)),
                        default=list(DEFAULT_ARCHITECTURES),
                        help="popcount architectures of 1-bit dot products, shift_add for "
                             "the LUT-only multiplier of --no-dsp, and entry_sums for codebook "
                             "dot products as one sum per table entry (default: "
                             f"{','.join(DEFAULT_ARCHITECTURES)})")
    parser.add_argument("--json", type=Path, default=Path("build/cost/cost.json"),
                        help="JSON output (default: %(default)s)")
    parser.add_argument("--merge", action="store_true",
                        help="merge the records into the existing --json file (replacing those "
                             "of the same jobs) instead of overwriting it")
    parser.add_argument("--csv", type=Path, default=None,
                        help="CSV output (default: next to the JSON)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="PNG plot (default: next to the JSON)")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route 1-bit dot units on iCE40 UP5K for Fmax")
    parser.add_argument("--jobs", type=positive_integer, default=None,
                        help="worker processes of the local Dask cluster, one Yosys each "
                             "(default: CPU count)")
    add_scheduler_option(parser)
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


def run(args: argparse.Namespace) -> int:
    import json

    from ..hw.explore.cost import merge_records, run_sweep, sweep_jobs, write_results
    from ..hw.explore.timing import add_fmax, timed_units
    from ..sw.files import output_lock

    with usage_errors():  # lanes and architectures the user gave
        jobs = sweep_jobs(args.bits, args.lanes, args.fabric,
                          {"off": (False,), "on": (True,), "both": (False, True)}[args.dsp],
                          args.architectures)
    with output_lock(args.json):  # the JSON names the run; the CSV and plot go beside it
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            records = run_sweep(jobs, cache=args.cache, workers=args.jobs,
                                scheduler=args.scheduler, progress=progress)
            if args.fmax:
                fmax_task = progress.add_task("place & route (iCE40 UP5K)",
                                              total=len(timed_units(records)))
                add_fmax(records, lambda: progress.advance(fmax_task))
        print_wide(cost_table(records))
        failed = [r for r in records if "error" in r]
        if args.merge and args.json.exists():
            records = merge_records(json.loads(args.json.read_text())["records"], records)
        paths = write_results(records, args.json, args.csv, args.plot)
    console.print(f"wrote {', '.join(map(str, paths[:-1]))} and {paths[-1]}")
    for record in failed:
        console.print(f"[red]yosys failed[/red] on {record['precision']}-bit, {record['lanes']} "
                      f"lanes, {record['fabric']} (log: {record['log']}):\n{record['error']}",
                      markup=False)
    return 1 if failed else 0
