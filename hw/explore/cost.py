"""Precision-cost explorer: synthesize the accelerator's MACs and dot units, on every fabric.

A sweep is a list of :class:`Job`: one design on one fabric, with or without DSP inference. The
design is the accelerator's own unit for the job's operand encodings
(:mod:`~qnnforge.hw.explore.designs`): an ``N``-lane dot product (for bipolar operands in one
popcount architecture, :mod:`~qnnforge.hw.explore.xnor_popcount`) or a MAC, the one-lane unit
with a registered accumulator. Each job's Verilog is generated with Amaranth here, synthesized
with the system Yosys (:func:`~qnnforge.hw.tools.synth.synthesize`) as a job of the sweep engine
(:mod:`~qnnforge.sw.sweep`: a local Dask cluster, or a running one) and cached under
``build/cost-cache/`` by the hash of the Verilog, the fabric, the DSP flag, the Yosys version and
the fabric's synthesis and counting scheme, so a repeated sweep only synthesizes what changed.
The Verilog holds every module of the design, so a change to a unit that changes the design
changes the key, and one that does not (a comment, a refactoring) keeps the cached figures.
Designs without a multiplier (bipolar, ternary) do not depend on the DSP flag and are
synthesized once for both.

Results are plain dicts (one record per job, see :func:`run_sweep`) written as JSON and CSV by
:func:`write_json` / :func:`write_csv` and plotted by :func:`write_plot`; :func:`merge_records`
adds the records of a partial sweep to earlier ones (``qnnforge cost --merge``).

A precision may name unlike operands, ``AxW``: ``8xcb4`` is 8-bit activations with a 4-bit
codebook of 8-bit values, to compare per lane with ``8x4`` (the same 4 bits of weight memory as
fixed point) and ``8`` (the codebook's values as fixed-point weights).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amaranth.lib import wiring

from ...sw.encoding import BIPOLAR, Encoding
from ...sw.sweep import Job as SweepJob
from ...sw.sweep import JobError, run_jobs
from ..compiler.lowering import element_shape
from ..cores.codebook_dot import CodebookSumDot
from ..tools.fabrics import FABRICS, get_fabric
from ..tools.files import save_figure_atomic, write_atomic
from ..tools.synth import SynthesisError, counting_scheme, synthesize
from ..tools.toolchain import ToolMissingError, tool_version
from .designs import (Design, Mac, dot_kind, dot_unit, lane_dot_verilog, parse_pair,
                      parse_precision, precision_name)
from .xnor_popcount import ARCHITECTURES as POPCOUNT_ARCHITECTURES
from .xnor_popcount import constant_weights, latency, xnor_unit

__all__ = ["DEFAULT_PRECISIONS", "DEFAULT_LANES", "DEFAULT_CACHE", "ARCHITECTURES",
           "DEFAULT_ARCHITECTURES", "Job", "sweep_jobs", "design_unit", "design_verilog",
           "run_sweep", "merge_records", "tool_versions", "write_results", "write_json",
           "write_csv", "write_plot", "constant_weights", "CODEBOOK_COMPARISON"]

DEFAULT_PRECISIONS = ("1", "ternary", "2", "4", "8", "16", "32")
CODEBOOK_COMPARISON = tuple(f"8x{name}" for bits in (2, 3, 4, 5) for name in (f"cb{bits}", bits))
"""The codebook rows: a ``b``-bit codebook lane beside a ``b``-bit fixed-point lane (``8`` is in
:data:`DEFAULT_PRECISIONS`), all with 8-bit activations."""
DEFAULT_LANES = (16, 64, 256)
DEFAULT_CACHE = Path("build/cost-cache")
ARCHITECTURES = (*POPCOUNT_ARCHITECTURES, "shift_add", "entry_sums")
"""Dot-product architectures: the popcounts of bipolar operands, ``"shift_add"``, the
LUT-only multiplier of fixed-point operands that ``--no-dsp`` builds, and ``"entry_sums"``, a
codebook dot product as one sum per table entry
(:class:`~qnnforge.hw.cores.codebook_dot.CodebookSumDot`) instead of a lookup and a multiplier
per lane (``"adder_tree"`` stands for the default unit of every other operand pair)."""
DEFAULT_ARCHITECTURES = POPCOUNT_ARCHITECTURES
MAC_TERMS = 1024
"""Products a MAC's accumulator is sized for."""
SCHEMA = "qnnforge-cost/1"


@dataclass(frozen=True)
class Job:
    """One design on one fabric.

    Attributes
    ----------
    activations, weights : Encoding
        Operand encodings; they choose the accelerator's unit
        (:func:`~qnnforge.hw.explore.designs.dot_unit`).
    lanes : int
        Lanes of the dot product; 1 means the single MAC with its accumulator.
    fabric : str
        A registered fabric (:data:`~qnnforge.hw.tools.fabrics.FABRICS`).
    dsp : bool
        DSP inference allowed.
    architecture : str
        One of :data:`ARCHITECTURES` for dot products (a popcount for bipolar operands,
        ``"adder_tree"`` or ``"shift_add"`` for fixed point, ``"adder_tree"`` (lookup and
        multiplier per lane) or ``"entry_sums"`` for codebook weights, ``"adder_tree"``
        otherwise), ``"mac"`` for MACs.
    """

    activations: Encoding
    weights: Encoding
    lanes: int
    fabric: str
    dsp: bool
    architecture: str

    @property
    def kind(self) -> str:
        return "mac" if self.lanes == 1 else "dot"

    @property
    def precision(self) -> str:
        """Name of the operand pair: the precision's name where both are alike."""
        if self.activations == self.weights:
            return precision_name(self.weights)
        return f"{precision_name(self.activations)}x{precision_name(self.weights)}"

    @property
    def lut_inputs(self) -> int:
        return get_fabric(self.fabric).lut_inputs

    @property
    def top(self) -> str:
        """Verilog name of the design; equal for jobs whose designs are equal."""
        top = f"cost_{self.kind}_{self.precision}_{self.lanes}_{self.architecture}"
        if self.architecture in ("compressor", "constant"):
            top += f"_lut{self.lut_inputs}"
        return top

    @property
    def has_multiplier(self) -> bool:
        return (dot_kind(self.activations, self.weights).multiplies
                and self.architecture != "entry_sums")


def _architectures(activations: Encoding, weights: Encoding, dsp: bool,
                   wanted: Sequence[str]) -> list[str]:
    """Return the architectures of ``wanted`` a dot product of these operands is built in."""
    kind = dot_kind(activations, weights)
    if kind.counts:
        return [a for a in wanted if a in POPCOUNT_ARCHITECTURES]
    if kind.name == "codebook" and "entry_sums" in wanted:
        return ["adder_tree", "entry_sums"]
    if kind.multiplies and not dsp and "shift_add" in wanted:
        return ["adder_tree", "shift_add"]
    return ["adder_tree"]


def sweep_jobs(precisions: Iterable[str | Encoding | tuple[Encoding, Encoding]] =
               DEFAULT_PRECISIONS,
               lanes: Iterable[int] = DEFAULT_LANES, fabrics: Iterable[str] = tuple(FABRICS),
               dsp: Iterable[bool] = (False, True),
               architectures: Iterable[str] = DEFAULT_ARCHITECTURES) -> list[Job]:
    """Return the jobs of a sweep: a MAC and every dot product per precision, fabric, DSP flag.

    A precision is an :class:`~qnnforge.sw.encoding.Encoding` of both operands, a pair
    ``(activations, weights)``, or its command-line name
    (:func:`~qnnforge.hw.explore.designs.parse_pair`: ``8``, ``8xcb4``).

    Raises
    ------
    ValueError
        If a precision, lane count, fabric or architecture is invalid.
    """
    pairs = [(p, p) if isinstance(p, Encoding) else tuple(p) if isinstance(p, tuple)
             else parse_pair(p) for p in precisions]
    lanes = list(lanes)
    for count in lanes:
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise ValueError(f"lanes must be integers of at least 2, not {count!r}")
    fabrics = [get_fabric(name).name for name in fabrics]
    architectures = list(architectures)
    for architecture in architectures:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"not {architecture!r}")
    jobs = []
    for fabric in fabrics:
        for flag in dsp:
            for activations, weights in pairs:
                jobs.append(Job(activations, weights, 1, fabric, flag, "mac"))
                for count in lanes:
                    for architecture in _architectures(activations, weights, flag,
                                                       architectures):
                        jobs.append(Job(activations, weights, count, fabric, flag,
                                        architecture))
    return jobs


def design_unit(job: Job) -> wiring.Component | None:
    """Return the Amaranth component a job synthesizes flat, or ``None`` for a fixed-point dot
    product, whose lanes are separate modules (see :func:`design_verilog`).

    A bipolar dot product is :func:`~qnnforge.hw.explore.xnor_popcount.xnor_unit` of the job's
    architecture (an :class:`~qnnforge.hw.cores.xnor_dot.XnorDot` for those the accelerator
    builds); any other is the accelerator's unit for the operands
    (:func:`~qnnforge.hw.explore.designs.dot_unit`); a MAC is a
    :class:`~qnnforge.hw.explore.designs.Mac` around the one-lane unit.
    """
    return _unit(job.activations, job.weights, job.lanes, job.architecture, job.lut_inputs)


def _unit(activations: Encoding, weights: Encoding, lanes: int, architecture: str,
          lut_inputs: int) -> wiring.Component | None:
    if lanes == 1:
        return Mac(activations, weights, MAC_TERMS)
    kind = dot_kind(activations, weights)
    if kind.counts:
        return xnor_unit(lanes, architecture, lut_inputs=lut_inputs,
                         weights=constant_weights(lanes) if architecture == "constant" else None)
    if architecture == "entry_sums":
        return CodebookSumDot(lanes, element_shape(activations), weights.bits, weights.values)
    if kind.multiplies:
        return None
    unit, _ = dot_unit(activations, weights, lanes)
    return unit


def design_verilog(job: Job) -> Design:
    """Return the Verilog of a job's design, whether to flatten it, and its latency."""
    return _design_verilog(job.top, job.activations, job.weights, job.lanes,
                           job.architecture, job.lut_inputs)


@functools.lru_cache(maxsize=None)
def _design_verilog(top: str, activations: Encoding, weights: Encoding, lanes: int,
                    architecture: str, lut_inputs: int) -> Design:
    # the fabric matters only through its LUT size, the DSP flag not at all
    from amaranth.back import verilog

    unit = _unit(activations, weights, lanes, architecture, lut_inputs)
    if unit is None:
        # many identical wide lanes: map the lane module once
        return Design(lane_dot_verilog(activations, weights, lanes, top,
                                       dsp=architecture != "shift_add"), False, 0)
    cycles = 1 if lanes == 1 else latency(unit) if dot_kind(activations, weights).counts else 0
    return Design(verilog.convert(unit, name=top, emit_src=False), True, cycles)


def _cache_key(verilog: str, job: Job, flatten: bool, yosys: str) -> str:
    flags = (f"{job.top}|{job.fabric}|{job.dsp if job.has_multiplier else 'any'}|{flatten}|{yosys}"
             f"|{counting_scheme(job.fabric)}")
    return hashlib.sha256(verilog.encode() + flags.encode()).hexdigest()[:24]


def _synthesize_job(top: str, fabric: str, dsp: bool, verilog: str, flatten: bool,
                    cache: str, key: str) -> dict:
    """Synthesize one design (a job of the sweep engine, run on a worker); return its counts.

    The Verilog and Yosys's log are kept in the cache directory as ``KEY.v`` and ``KEY.log``.

    Raises
    ------
    SynthesisError
        If Yosys fails.
    """
    directory = Path(cache)
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{key}.v"
    write_atomic(source, verilog)
    start = time.monotonic()
    resources = synthesize(source, top, fabric, dsp=dsp, log=directory / f"{key}.log",
                           flatten=flatten)
    return {"lut": resources.lut, "ff": resources.ff, "carry": resources.carry,
            "dsp": resources.dsp, "bram": resources.bram, "lutram": resources.lutram,
            "seconds": round(time.monotonic() - start, 2)}


def _label(job: Job) -> str:
    return (f"{job.precision} {job.kind if job.lanes == 1 else f'x{job.lanes}'} "
            f"{job.architecture} {job.fabric}{' dsp' if job.dsp else ''}")


def run_sweep(jobs: Sequence[Job], *, cache: str | os.PathLike = DEFAULT_CACHE,
              workers: int | None = None, scheduler: str | object | None = None,
              progress: bool | object = False) -> list[dict]:
    """Synthesize every job (or read it from the cache) and return one record per job.

    The syntheses are jobs of the sweep engine (:func:`~qnnforge.sw.sweep.run_jobs`): on a
    local Dask cluster by default, or on the cluster of ``scheduler``. Each design's Verilog is
    generated here, and the engine's cache key is the design hash (the Verilog, the fabric, the
    DSP flag where the design multiplies, the Yosys version and the fabric's counting scheme),
    so equal designs run once and a repeated sweep only synthesizes what changed.

    Each record holds the job's fields (``dsp`` renamed ``dsp_inference``), ``kind``, ``bits``,
    the cell counts ``lut``, ``ff``, ``carry``, ``dsp``, ``bram``, ``lutram``, ``lut_per_lane``,
    ``latency`` (cycles), ``ratio_to_1bit`` (LUTs per lane over those of the cheapest 1-bit
    design with run-time weights of the same kind, lanes, fabric and DSP flag), the design hash
    and whether it came from the cache. A failed synthesis gives a record with ``error`` and
    ``log`` instead of counts (and is not cached).

    Parameters
    ----------
    jobs : sequence of Job
        What to synthesize.
    cache : path
        Cache directory.
    workers : int, optional
        Worker processes of the local cluster (default: the number of CPUs).
    scheduler : str or distributed.Client, optional
        A running Dask scheduler's address (``tcp://HOST:8786``) or a connected client.
    progress : bool or rich.progress.Progress
        Show the syntheses as they complete (see :func:`~qnnforge.sw.sweep.run_jobs`).

    Raises
    ------
    ToolMissingError
        If Yosys is not installed.
    JobError
        If a synthesis job fails other than by Yosys's own error (a bug, a lost worker).
    """
    cache = Path(cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    yosys = tool_version("yosys")
    prepared = []
    for job in jobs:
        design = design_verilog(job)
        key = _cache_key(design.verilog, job, design.flatten, yosys)
        prepared.append((job, design.latency, key,
                         SweepJob(_synthesize_job, (job.top, job.fabric, job.dsp,
                                                    design.verilog, design.flatten, str(cache),
                                                    key), label=_label(job), key=key)))
    records: list[dict] = [{} for _ in prepared]

    def done(index: int, sweep_job: SweepJob, result: object, cached: bool) -> None:
        job, cycles, key, _ = prepared[index]
        if isinstance(result, JobError):
            if not isinstance(result.error, SynthesisError):
                raise result
            result = {"error": str(result.error), "log": str(cache / f"{key}.log")}
        record = {**_job_fields(job), "latency": cycles, "design_hash": key, **result,
                  "cached": cached}
        if "lut" in record:
            record["lut_per_lane"] = round(record["lut"] / job.lanes, 4)
        records[index] = record

    run_jobs([entry[3] for entry in prepared], scheduler=scheduler, workers=workers,
             cache=cache, progress=progress, errors="return", description="synthesizing",
             on_done=done)
    _add_ratios(records)
    return records


def _job_fields(job: Job) -> dict:
    return {"kind": job.kind, "bits": max(job.activations.bits, job.weights.bits),
            "precision": job.precision, "activations": str(job.activations),
            "weights": str(job.weights), "lanes": job.lanes, "fabric": job.fabric,
            "dsp_inference": job.dsp, "architecture": job.architecture}


def _add_ratios(records: list[dict]) -> None:
    base: dict[tuple, float] = {}
    for record in records:
        if record["precision"] == "1" and "lut" in record and record["architecture"] != "constant":
            group = (record["kind"], record["lanes"], record["fabric"], record["dsp_inference"])
            base[group] = min(base.get(group, float("inf")), record["lut_per_lane"])
    for record in records:
        group = (record["kind"], record["lanes"], record["fabric"], record["dsp_inference"])
        if "lut" in record and base.get(group):
            record["ratio_to_1bit"] = round(record["lut_per_lane"] / base[group], 2)


def _job_key(record: dict) -> tuple:
    return tuple(record[k] for k in ("kind", "precision", "lanes", "fabric", "dsp_inference",
                                     "architecture"))


def merge_records(earlier: list[dict], records: list[dict]) -> list[dict]:
    """Return ``earlier`` with ``records`` merged in: a record replaces the earlier one of the
    same job (kind, precision, lanes, fabric, DSP flag, architecture), the others are appended;
    the ratios to 1-bit are computed again over the whole list."""
    merged = {_job_key(record): record for record in earlier}
    for record in records:
        merged[_job_key(record)] = record
    result = [dict(record) for record in merged.values()]
    for record in result:
        record.pop("ratio_to_1bit", None)
    _add_ratios(result)
    return result


def tool_versions() -> dict:
    """Return the versions of the tools the figures depend on ("missing" for one not found)."""
    import amaranth

    versions = {"amaranth": amaranth.__version__}
    for tool in ("yosys", "nextpnr-ice40"):
        try:
            versions[tool] = tool_version(tool)
        except ToolMissingError:
            versions[tool] = "missing"
    return versions


def write_results(records: list[dict], json_path: str | os.PathLike,
                  csv_path: str | os.PathLike | None = None,
                  plot_path: str | os.PathLike | None = None) -> tuple[Path, Path, Path]:
    """Write the records as JSON (with :func:`tool_versions`), CSV and a plot; return the paths.

    The CSV and the plot go next to the JSON (``.csv``, ``.png``) unless given.
    """
    json_path = Path(json_path)
    csv_path = Path(csv_path) if csv_path is not None else json_path.with_suffix(".csv")
    plot_path = Path(plot_path) if plot_path is not None else json_path.with_suffix(".png")
    write_json(records, json_path, tool_versions())
    write_csv(records, csv_path)
    write_plot(records, plot_path)
    return json_path, csv_path, plot_path


def write_json(records: list[dict], path: str | os.PathLike, tools: dict | None = None) -> None:
    """Write the records and the tool versions as JSON."""
    write_atomic(Path(path), json.dumps({"schema": SCHEMA, "tools": tools or {},
                                         "records": records}, indent=1) + "\n")


CSV_FIELDS = ("fabric", "dsp_inference", "kind", "precision", "bits", "lanes", "architecture",
              "lut", "ff", "carry", "dsp", "bram", "lutram", "lut_per_lane", "ratio_to_1bit",
              "latency", "fmax_mhz", "design_hash", "error")


def write_csv(records: list[dict], path: str | os.PathLike) -> None:
    """Write the records as CSV, one row each, with the columns of :data:`CSV_FIELDS`."""
    stream = io.StringIO(newline="")
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: record.get(k, "") for k in CSV_FIELDS})
    write_atomic(Path(path), stream.getvalue())


def plot_series(records: list[dict]) -> dict[str, list[tuple[float, float, str]]]:
    """Return, per fabric, ``(bit width, LUTs per lane, precision)`` of the widest dot products.

    Uses the largest lane count, LUT-only arithmetic and the cheapest architecture (for 1-bit
    operands, with run-time weights); a precision sits at the log2 of its number of values
    (ternary at ``log2(3)`` bits). Pairs of unlike operands are left out.
    """
    usable = [r for r in records if "lut" in r and r["kind"] == "dot" and not r["dsp_inference"]
              and r["architecture"] != "constant"]
    series: dict[str, list[tuple[float, float, str]]] = {}
    for fabric in sorted({r["fabric"] for r in usable}):
        mine = [r for r in usable if r["fabric"] == fabric]
        lanes = max(r["lanes"] for r in mine)
        best: dict[str, float] = {}
        for record in mine:
            if record["lanes"] == lanes:
                name = record["precision"]
                best[name] = min(best.get(name, float("inf")), record["lut_per_lane"])
        points = [(_information_bits(name), value, name) for name, value in best.items()
                  if "x" not in name]
        series[fabric] = sorted(points)
    return series


def _information_bits(name: str) -> float:
    encoding = parse_precision(name)
    return 1.0 if encoding == BIPOLAR else math.log2(encoding.max - encoding.min + 1)


def write_plot(records: list[dict], path: str | os.PathLike, title: str | None = None) -> None:
    """Plot LUTs per lane (log scale) against operand width, one line per fabric, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=120)
    for fabric, points in plot_series(records).items():
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                  label=f"{fabric} (LUT{get_fabric(fabric).lut_inputs})")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks([1, 1.585, 2, 4, 8, 16, 32], ["1", "T", "2", "4", "8", "16", "32"])
    axes.set_xlabel("operand width (bits; T = ternary)")
    axes.set_ylabel("LUTs per lane (no DSP)")
    axes.set_title(title or "Dot-product cost per lane")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_figure_atomic(path, figure)
