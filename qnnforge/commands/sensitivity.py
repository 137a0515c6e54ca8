"""``qnnforge sensitivity``: the accuracy each layer loses at each lower precision, and a proxy.

Parses the options, runs :func:`qnnforge.sw.sensitivity.run_sensitivity` (jobs on a local or
running Dask cluster) and prints the table; the report, CSV and heat map go into ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.progress import TimeElapsedColumn
from rich.table import Table

from ..console import console
from ..options import add_scheduler_option, positive_integer
from .cost import print_wide


def _precisions(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def register(subparsers) -> None:
    from ..sw.config import ARCHITECTURES, TrainConfig
    from ..sw.sensitivity import (BASELINE, DEFAULT_BASELINE_EPOCHS, DEFAULT_CACHE,
                                  DEFAULT_EPOCHS, DEFAULT_PRECISIONS, DEFAULT_SAMPLES)

    parser = subparsers.add_parser(
        "sensitivity", help="accuracy drop of each layer at each lower precision, and a proxy",
        description=f"Train the digits MLP or CNN with every layer at {BASELINE}, then, for each "
                    "layer and each lower precision, fine-tune a copy with only that layer "
                    "narrower and measure its held-out accuracy; beside it HAWQ's second-order "
                    "proxy (Hessian trace x weight perturbation) and its rank correlation with "
                    "the drops. Writes sensitivity.json, .csv and a .png heat map into --out. "
                    "Every training is a job on a Dask cluster, cached by content.")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="mlp",
                        help="network (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/sensitivity"),
                        help="output folder (default: %(default)s)")
    parser.add_argument("--precisions", type=_precisions, default=DEFAULT_PRECISIONS,
                        help="comma-separated lower precisions to try per layer (default: "
                             f"{','.join(DEFAULT_PRECISIONS)})")
    parser.add_argument("--epochs", type=positive_integer, default=DEFAULT_EPOCHS,
                        help="fine-tuning epochs per layer and precision (default: %(default)s)")
    parser.add_argument("--baseline-epochs", type=positive_integer,
                        default=DEFAULT_BASELINE_EPOCHS,
                        help=f"training epochs of the {BASELINE} baseline (default: %(default)s)")
    parser.add_argument("--repeats", type=positive_integer, default=1,
                        help="fine-tuning runs per cell, seeds SEED, SEED+1...; accuracies are "
                             "their mean (default: %(default)s)")
    parser.add_argument("--samples", type=positive_integer, default=DEFAULT_SAMPLES,
                        help="Rademacher vectors of the Hessian trace estimate "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=TrainConfig().seed,
                        help="seed of initialization, batches and the trace estimate "
                             "(default: %(default)s)")
    parser.add_argument("--workers", type=positive_integer, default=None,
                        help="worker processes of the local Dask cluster (default: CPU count)")
    add_scheduler_option(parser)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="cache of the jobs' results (default: %(default)s)")
    parser.set_defaults(func=run)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}"


def sensitivity_table(report: dict) -> Table:
    """Return the terminal table: per layer and precision, accuracy, drops and the proxy."""
    table = Table(title=f"Sensitivity ({report['arch']}, one layer narrower than "
                        f"{report['baseline']['precision']}; reference "
                        f"{report['reference']['accuracy']:.2%})",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("layer", "precision", "accuracy", "drop pp", "drop pp before",
                   "loss +before", "proxy"):
        table.add_column(column, justify="left" if column == "layer" else "right",
                         no_wrap=True)
    for cell in report["cells"]:
        if not cell["feasible"]:
            table.add_row(cell["name"], cell["precision"], "[dim]n/a[/dim]", "", "", "", "")
            continue
        table.add_row(cell["name"], cell["precision"], f"{cell['accuracy']:.2%}",
                      _percent(cell["drop"]), _percent(cell["drop_before"]),
                      f"{cell['loss_increase_before']:+.4f}", f"{cell['proxy']:.2e}")
    return table


def _rho(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def run(args: argparse.Namespace) -> int:
    from ..hw.tools.toolchain import run_environment
    from ..sw.config import TrainConfig
    from ..sw.files import output_lock
    from ..sw.sensitivity import run_sensitivity, write_report

    config = TrainConfig(arch=args.arch, seed=args.seed)
    with output_lock(args.out):
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[last]}"),
                      console=console) as progress:
            report = run_sensitivity(config, args.precisions, epochs=args.epochs,
                                     baseline_epochs=args.baseline_epochs,
                                     repeats=args.repeats, samples=args.samples,
                                     scheduler=args.scheduler, workers=args.workers,
                                     cache=args.cache, progress=progress)
        report["environment"] = run_environment(config.seed, torch_threads=1)
        paths = write_report(report, args.out)
    print_wide(sensitivity_table(report))
    proxy = report["proxy"]
    console.print(f"proxy vs accuracy drop, Spearman: {_rho(proxy['spearman'])} after "
                  f"fine-tuning, {_rho(proxy['spearman_before'])} before; vs held-out loss "
                  f"increase: {_rho(proxy['spearman_loss'])} after, "
                  f"{_rho(proxy['spearman_loss_before'])} before")
    for cell in report["cells"]:
        if not cell["feasible"]:
            console.print(f"n/a {cell['name']} at {cell['precision']}: {cell['reason']}",
                          markup=False, style="dim")
    seconds = report["seconds"]
    console.print(f"jobs on their workers: baseline {seconds['baseline_job']:.0f} s, "
                  f"fine-tuning {seconds['finetune_job_mean']:.1f} s a run "
                  f"({seconds['finetune_jobs']:.0f} s in all), proxy {seconds['proxy_job']:.1f} s")
    console.print(f"wrote {', '.join(map(str, paths))} ({seconds['wall']:.0f} s)")
    return 0
