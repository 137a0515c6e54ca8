"""``qnnforge search``: the most accurate precision and folding per layer under a LUT budget.

The search (:mod:`qnnforge.hw.explore.search`) estimates the resources of each assignment of
precisions at a few foldings, trains those within the budget and keeps the best; every training
and every estimate is a job on the Dask sweep engine (:func:`qnnforge.sw.sweep.run_jobs`), cached
by content. The winner then goes through the real flow of ``qnnforge demo`` (trained, exported,
generated, verified in Verilator on every held-out digit, synthesized); if its real LUT count
exceeds the budget the estimate met, the next design of the ranking is built instead. The best
single-precision design within the same budget goes through the same flow, for comparison.

OUT/report.json holds the demo report of the design built plus ``lut_budget``,
``cycles_budget``, ``fabric``, ``layers`` (precision and folding per layer), ``candidates`` (every
assignment the search looked at: estimated resources per folding, accuracy if trained),
``attempts`` (each design built, estimated against real LUTs) and ``single_precision``;
OUT/pareto.png plots accuracy against estimated LUTs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

from rich.table import Table

from ..console import console
from ..options import add_scheduler_option, positive_integer

DEFAULT_CACHE = Path("build/search-cache")
DEFAULT_ATTEMPTS = 3


def _precision_list(text: str) -> tuple[str, ...]:
    from ..hw.explore.search import check_precisions

    try:
        return check_precisions(part.strip() for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers) -> None:
    from ..hw.explore.search import DEFAULT_PRECISIONS
    from ..hw.tools.fabrics import FABRICS
    from ..sw.config import ARCHITECTURES, TrainConfig
    from .verify import add_simulation_options

    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "search", help="choose precision and folding per layer under a LUT (or cycles) budget",
        description="Estimate the resources of precision assignments at a few foldings, train "
                    "those within the budget on Dask (a coordinate search: every uniform "
                    "precision, then one layer at a time), build the most accurate through the "
                    "demo's flow (synthesized LUTs must meet the budget) and write "
                    "OUT/report.json and OUT/pareto.png.")
    parser.add_argument("--lut-budget", type=positive_integer, required=True, metavar="LUTS",
                        help="LUTs the design may use on --fabric")
    parser.add_argument("--cycles-budget", type=positive_integer, default=None,
                        metavar="CYCLES", help="cycles per inference the design may take")
    parser.add_argument("--fabric", choices=tuple(FABRICS), default="ice40",
                        help="fabric of the budget (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/search"),
                        help="output directory (default: %(default)s)")
    parser.add_argument("--precisions", type=_precision_list, default=DEFAULT_PRECISIONS,
                        metavar="P1,P2,...",
                        help=f"precisions to choose from (default: "
                             f"{','.join(DEFAULT_PRECISIONS)})")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="mlp",
                        help="network (default: %(default)s)")
    parser.add_argument("--epochs", type=positive_integer, default=defaults.epochs,
                        help="training epochs of every candidate and of the design built "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="random seed (default: %(default)s)")
    add_scheduler_option(parser)
    parser.add_argument("--workers", type=positive_integer, default=None,
                        help="worker processes of the local cluster (default: one per CPU)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="cache of the jobs' results (default: %(default)s)")
    parser.add_argument("--beam", type=positive_integer, default=1,
                        help="designs each round starts from: the best so far, or the best "
                             "few (reaches designs two layer changes away; more trainings) "
                             "(default: %(default)s)")
    parser.add_argument("--attempts", type=positive_integer, default=DEFAULT_ATTEMPTS,
                        help="designs to build at most when the synthesized LUTs exceed the "
                             "budget (default: %(default)s)")
    parser.add_argument("--no-single-flow", dest="single_flow", action="store_false",
                        help="do not build the best single-precision design for comparison")
    add_simulation_options(parser)
    parser.set_defaults(func=run)


def design_config(config, precisions: tuple[str, ...]):
    """Return ``config`` training the assignment ``precisions``: a uniform one as its preset
    (the demo of that precision, bit for bit), a mixed one as the ``mixed`` preset with every
    layer overridden."""
    if len(set(precisions)) == 1:
        return dataclasses.replace(config, precision=precisions[0], layer_precision=())
    return dataclasses.replace(config, precision="mixed",
                               layer_precision=tuple(enumerate(precisions)))


def train_job(config) -> dict:
    """Train ``config`` and return its held-out accuracies (a job of the sweep engine)."""
    from ..sw.pipeline import train_and_export

    trained = train_and_export(config)
    return {"quantized": trained.quantized_accuracy, "reference": trained.reference_accuracy,
            "float": trained.float_accuracy, "test_samples": trained.test_samples}


def estimate_job(config, fabric: str) -> list[dict]:
    """Return the candidates of ``config``'s assignment at every folding target, as JSON (a job
    of the sweep engine).

    The artifact is trained for one epoch: the estimate reads the layers' shapes, encodings and
    folding, which do not depend on how long the weights were trained.
    """
    from ..hw.compiler.options import HardwareOptions
    from ..hw.explore.search import estimate_candidates
    from ..sw.pipeline import train_and_export

    trained = train_and_export(dataclasses.replace(config, epochs=1))
    precisions = tuple(config.precision_summary()["layers"])
    return [candidate.to_json() for candidate in
            estimate_candidates(trained.artifact, precisions, fabric, HardwareOptions())]


def _versions() -> tuple[str, str]:
    """Return the cache versions of the training and the estimate jobs: the sources they run
    (and the estimator's calibration)."""
    from ..hw.explore import estimate, search
    from ..sw import cnn, data, encoding, export, model, pipeline, precision, quantizers, train
    from ..sw.sweep import source_version

    training = source_version(pipeline, train, model, cnn, export, quantizers, precision,
                              encoding, data)
    calibration = hashlib.sha256(estimate.DEFAULT_CALIBRATION.read_bytes()).hexdigest()[:16]
    return training, f"{training}-{source_version(estimate, search)}-{calibration}"


def search_designs(config, budget, fabric: str, precisions, *, beam: int = 1,
                   scheduler=None, workers: int | None = None,
                   cache: Path | None = DEFAULT_CACHE, progress: bool = True):
    """Run the coordinate search of ``precisions`` under ``budget`` on Dask.

    Every estimate and every training is a job of :func:`~qnnforge.sw.sweep.run_jobs`, cached
    in ``cache`` by content; one cluster (local, or the one of ``scheduler``) serves all rounds.
    Returns the :class:`~qnnforge.hw.explore.search.SearchTrace`.
    """
    from ..hw.explore.search import Candidate, coordinate_search
    from ..sw.sweep import Job, open_client, run_jobs

    training_version, estimate_version = _versions()

    def label(assignment) -> str:
        return "/".join(assignment)

    with open_client(scheduler, workers) as client:
        def run(jobs, description):
            return run_jobs(jobs, scheduler=client, cache=cache, progress=progress,
                            description=description)

        def estimate(assignments):
            jobs = [Job(estimate_job, (design_config(config, a), fabric), label=label(a),
                        version=estimate_version) for a in assignments]
            results = run(jobs, "estimate")
            return {a: [Candidate.from_json(a, entry) for entry in result]
                    for a, result in zip(assignments, results)}

        def train(assignments):
            jobs = [Job(train_job, (design_config(config, a),), label=label(a),
                        version=training_version) for a in assignments]
            return dict(zip(assignments, run(jobs, "train")))

        return coordinate_search(config.layers, precisions, budget, estimate, train, beam)


def build_design(config, precisions: tuple[str, ...], target_cycles: int, fabric: str,
                 out: Path, *, stall: float, backpressure: float) -> dict:
    """Build one design through ``qnnforge demo``'s flow into ``out``; return its report.

    Trained, exported, generated at the default folding of ``target_cycles``, verified in
    Verilator on every held-out digit, synthesized for the demo's fabrics (and for ``fabric``
    if it is not one of them).
    """
    from ..hw.compiler.options import HardwareOptions
    from ..hw.tools.files import write_atomic
    from .demo import run_demo

    flow = argparse.Namespace(out=out, target_cycles=target_cycles, stall=stall,
                              backpressure=backpressure)
    run_demo(flow, design_config(config, precisions), HardwareOptions(), {})
    report = json.loads((out / "report.json").read_text())
    if fabric not in report["resources"]:
        from ..console import step
        from ..hw.tools.synth import synthesize

        with step(f"yosys synth for {fabric}"):
            result = synthesize(Path(report["verilog"]), json.loads(
                Path(report["design"]).read_text())["top"], fabric,
                log=out / "hw" / f"yosys-{fabric}.log")
        report["resources"][fabric] = result.to_json()
        write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    return report


def _layers(candidate) -> list[dict]:
    return [{"layer": index, "precision": name, "pe": fold.pe, "simd": fold.simd}
            for index, (name, fold) in enumerate(zip(candidate.precisions,
                                                     candidate.folding.layers))]


def _built(candidate, report: dict, fabric: str, budget, path: Path) -> dict:
    """Return what a build of ``candidate`` measured, beside what the search predicted."""
    real = report["resources"][fabric]["lut"]
    return {"layers": list(candidate.precisions), "target_cycles": candidate.target_cycles,
            "cycles": candidate.cycles, "estimated_lut": candidate.lut, "real_lut": real,
            "estimate_error": (candidate.lut - real) / real, "fits": real <= budget.lut,
            "hw_accuracy": report["hw_accuracy"], "samples_verified": report["samples_verified"],
            "mismatches": report["mismatches"],
            "cycles_per_inference": report["cycles_per_inference"], "report": str(path)}


def pareto_points(trace) -> list[dict]:
    """Return the Pareto front of the trained candidates within the cycles budget: estimated
    LUTs against accuracy."""
    from ..hw.explore.search import pareto_front, trained_points

    trained = trained_points(trace)
    front = pareto_front([(candidate.lut, design.score) for candidate, design in trained])
    return [{"layers": list(candidate.precisions), "target_cycles": candidate.target_cycles,
             "cycles": candidate.cycles, "estimated_lut": candidate.lut,
             "accuracy": design.score} for candidate, design in (trained[i] for i in front)]


def search_report(trace, fabric: str, *, winner=None, built: dict | None = None,
                  attempts: list[dict] = (), single_built: dict | None = None,
                  search_seconds: float, settings: dict) -> dict:
    """Return the search's report: the built design's demo report (if any) plus the search.

    Parameters
    ----------
    trace : SearchTrace
        What the search looked at.
    fabric : str
        The fabric of the budget.
    winner : Candidate, optional
        The design built within budget, and ``built`` its demo report.
    attempts : list of dict
        Every design built, in order (:func:`_built`).
    single_built : dict, optional
        The build of the best single-precision design (:func:`_built`).
    search_seconds : float
        Wall time of the search (estimates and trainings).
    settings : dict
        The search's settings (precisions, epochs, seed, where the jobs ran).
    """
    from ..hw.explore.search import best_uniform

    single = best_uniform(trace)
    report = dict(built or {})
    report.update({
        "lut_budget": trace.budget.lut, "cycles_budget": trace.budget.cycles, "fabric": fabric,
        "layers": None if winner is None else _layers(winner),
        "target_cycles": None if winner is None else winner.target_cycles,
        "estimated": None if winner is None else {**winner.estimate, "cycles": winner.cycles},
        "attempts": list(attempts),
        "single_precision": None if single is None else {
            "layers": _layers(single.chosen), "accuracy": single.accuracy,
            "target_cycles": single.chosen.target_cycles, "cycles": single.chosen.cycles,
            "estimated": single.chosen.estimate, "built": single_built},
        "candidates": [design.to_json() for design in trace.evaluations.values()],
        "pareto": pareto_points(trace),
        "search": {**settings, "strategy": "coordinate", "trainings": trace.trainings,
                   "assignments_estimated": len(trace.evaluations),
                   "candidates_estimated": sum(len(d.candidates)
                                               for d in trace.evaluations.values()),
                   "seconds": search_seconds},
    })
    if built is not None and single_built is not None:
        report["comparison"] = {
            "winner_hw_accuracy": built["hw_accuracy"],
            "single_hw_accuracy": single_built["hw_accuracy"],
            "single_fits": single_built["fits"],
            "difference_samples": round((built["hw_accuracy"] - single_built["hw_accuracy"])
                                        * built["test_samples"]),
        }
    return report


def run_search(config, budget, fabric: str, precisions, out: Path, *, beam: int = 1,
               scheduler=None, workers: int | None = None, cache: Path | None = DEFAULT_CACHE,
               attempts: int = DEFAULT_ATTEMPTS, single_flow: bool = True, stall: float = 0.3,
               backpressure: float = 0.3) -> dict:
    """Search, build the best design within budget, write OUT/report.json and OUT/pareto.png.

    The designs of :func:`~qnnforge.hw.explore.search.rank_designs` are built in order
    (``out/design-1``, ...) until one's synthesized LUTs meet the budget, at most ``attempts``;
    then the best single-precision design (``out/single``, unless it is the one built).

    Raises
    ------
    SearchError
        If no design fits the budget, or none of the ``attempts`` built does (the report is
        written first).
    """
    from ..hw.explore.search import SearchError, best_uniform, rank_designs, write_pareto_plot
    from ..hw.tools.files import write_atomic

    started = time.monotonic()
    trace = search_designs(config, budget, fabric, precisions, beam=beam, scheduler=scheduler,
                           workers=workers, cache=cache)
    search_seconds = time.monotonic() - started
    console.print(candidates_table(trace))
    settings = {"precisions": list(precisions), "beam": beam, "epochs": config.epochs,
                "seed": config.seed, "arch": config.arch, "scheduler": scheduler or "local",
                "workers": workers}
    tried, winner, built = [], None, None
    for index, candidate in enumerate(rank_designs(trace)[:attempts]):
        path = out / f"design-{index + 1}"
        report = build_design(config, candidate.precisions, candidate.target_cycles, fabric,
                              path, stall=stall, backpressure=backpressure)
        # the demo's flow folds the trained artifact at the candidate's target as estimated
        assert report["folding"] == candidate.folding.to_json(), (report["folding"], candidate)
        tried.append(_built(candidate, report, fabric, budget, path))
        if tried[-1]["fits"]:
            winner, built = candidate, report
            break
        console.print(f"[yellow]{'/'.join(candidate.precisions)} at {candidate.cycles} cycles: "
                      f"{tried[-1]['real_lut']} LUTs synthesized, over the budget; trying the "
                      f"next design[/yellow]")
    single_built = None
    single = best_uniform(trace)
    if winner is not None and single_flow and single is not None:
        if single.chosen == winner:
            single_built = tried[-1]
        else:
            path = out / "single"
            report = build_design(config, single.precisions, single.chosen.target_cycles,
                                  fabric, path, stall=stall, backpressure=backpressure)
            single_built = _built(single.chosen, report, fabric, budget, path)
    report = search_report(trace, fabric, winner=winner, built=built, attempts=tried,
                           single_built=single_built, search_seconds=search_seconds,
                           settings=settings)
    report["wall_seconds"] = time.monotonic() - started
    write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_pareto_plot(out / "pareto.png", trace, winner,
                      None if winner is None else tried[-1]["real_lut"], fabric,
                      title=f"qnnforge search: {config.arch} on {fabric}, budget "
                            f"{budget.lut} LUT"
                            + ("" if budget.cycles is None else f", {budget.cycles} cycles"))
    if winner is None:
        raise SearchError(f"none of the {len(tried)} most accurate designs met {budget.lut} "
                          f"LUTs once synthesized on {fabric} (see {out / 'report.json'})")
    return report


def candidates_table(trace) -> Table:
    """Return every assignment the search looked at: its chosen folding, LUTs and accuracy."""
    table = Table(title=f"search under {trace.budget.lut} LUT"
                        + ("" if trace.budget.cycles is None
                           else f" and {trace.budget.cycles} cycles"), title_justify="left")
    for column, justify in (("round", "right"), ("precision per layer", "left"),
                            ("cycles", "right"), ("estimated LUT", "right"),
                            ("accuracy", "right")):
        table.add_column(column, justify=justify)
    cycles = trace.budget.cycles
    for design in trace.evaluations.values():
        chosen = design.chosen
        fast = [c for c in design.candidates if cycles is None or c.cycles <= cycles]
        over = ("over (slower)" if not fast
                else f"over ({min(c.lut for c in fast)})")
        table.add_row(str(design.round), ", ".join(design.precisions),
                      "-" if chosen is None else str(chosen.cycles),
                      over if chosen is None else str(chosen.lut),
                      "-" if design.accuracy is None else f"{design.score:.4f}")
    return table


def result_table(report: dict) -> Table:
    """Return the closing table: the design built, against the best single precision."""
    table = Table(title="qnnforge search", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    layers = ", ".join(f"{layer['precision']} {layer['pe']}x{layer['simd']}"
                       for layer in report["layers"])
    rows = [("budget", f"{report['lut_budget']} LUT on {report['fabric']}"
             + ("" if report["cycles_budget"] is None
                else f", {report['cycles_budget']} cycles")),
            ("precision and PE x SIMD per layer", layers),
            ("LUT estimated / synthesized", f"{report['estimated']['lut']} / "
                                            f"{report['resources'][report['fabric']]['lut']}"),
            ("cycles per inference", f"{report['cycles_per_inference']:g}"),
            ("hardware accuracy (verified / mismatches)",
             f"{report['hw_accuracy']:.4f} ({report['samples_verified']} / "
             f"{report['mismatches']})"),
            ("designs built", str(len(report["attempts"]))),
            ("trainings", str(report["search"]["trainings"]))]
    single = report["single_precision"]
    if single is not None and single["built"] is not None:
        built = single["built"]
        rows.append(("best single precision (LUT synthesized, hardware accuracy)",
                     f"{single['layers'][0]['precision']}: {built['real_lut']}, "
                     f"{built['hw_accuracy']:.4f}"))
    rows.append(("wall time", f"{report['wall_seconds']:.0f} s"))
    for key, value in rows:
        table.add_row(key, value)
    return table


def run(args: argparse.Namespace) -> int:
    from ..errors import usage_errors
    from ..hw.explore.search import Budget
    from ..sw.config import TrainConfig
    from ..sw.files import output_lock

    with usage_errors():
        budget = Budget(args.lut_budget, args.cycles_budget)
    config = TrainConfig(arch=args.arch, epochs=args.epochs, seed=args.seed)
    with output_lock(args.out):
        report = run_search(config, budget, args.fabric, args.precisions, args.out,
                            beam=args.beam, scheduler=args.scheduler, workers=args.workers,
                            cache=args.cache, attempts=args.attempts,
                            single_flow=args.single_flow,
                            stall=args.stall, backpressure=args.backpressure)
    console.print(result_table(report))
    console.print(f"wrote {args.out / 'report.json'} and {args.out / 'pareto.png'}")
    return 0
