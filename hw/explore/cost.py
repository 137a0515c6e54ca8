"""Precision-cost explorer: synthesize MACs and dot products at every precision, on every fabric.

A sweep is a list of :class:`Job`: one design (a MAC with its accumulator, or an ``N``-lane dot
product with one popcount architecture for 1-bit operands) on one fabric, with or without DSP
inference. Each job's Verilog is generated with Amaranth, synthesized with the system Yosys
(:func:`~qnnforge.hw.tools.synth.synthesize`) and cached under ``build/cost-cache/`` by the hash of the
Verilog, the fabric, the DSP flag and the Yosys version, so a repeated sweep only synthesizes
what changed. Designs without a multiplier (1-bit, ternary) do not depend on the DSP flag and
are synthesized once for both.

Results are plain dicts (one record per job, see :func:`run_sweep`) written as JSON and CSV by
:func:`write_json` / :func:`write_csv` and plotted by :func:`write_plot`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cores.compressor import LUT_INPUTS
from .fixed_mac import Mac, dot_verilog, parse_precision
from ..tools.synth import FABRICS, SynthesisError, counting_scheme, synthesize
from ..tools.toolchain import tool_version
from .xnor_popcount import ARCHITECTURES, XnorPopcount

__all__ = ["DEFAULT_PRECISIONS", "DEFAULT_LANES", "DEFAULT_CACHE", "Job", "sweep_jobs",
           "run_sweep", "write_json", "write_csv", "write_plot", "constant_weights"]

DEFAULT_PRECISIONS = ("1", "ternary", "2", "4", "8", "16", "32")
DEFAULT_LANES = (16, 64, 256)
DEFAULT_CACHE = Path("build/cost-cache")
MAC_TERMS = 1024
"""Products a MAC's accumulator is sized for."""
SCHEMA = "qnnforge-cost/1"


def constant_weights(lanes: int, seed: int = 1) -> list[int]:
    """Return the fixed pseudo-random weight bits the constant-weight designs bake in."""
    rng = random.Random(seed)
    return [rng.randint(0, 1) for _ in range(lanes)]


@dataclass(frozen=True)
class Job:
    """One design on one fabric.

    Attributes
    ----------
    precision : str
        ``"1"``, ``"ternary"`` or a signed width.
    lanes : int
        Lanes of the dot product; 1 means the single MAC with its accumulator.
    fabric : str
        ``"xc7"``, ``"ice40"`` or ``"ecp5"``.
    dsp : bool
        DSP inference allowed.
    architecture : str
        Popcount architecture for 1-bit dot products (:data:`ARCHITECTURES`), ``"mac"`` for
        MACs, ``"adder_tree"`` for wider dot products.
    """

    precision: str
    lanes: int
    fabric: str
    dsp: bool
    architecture: str

    @property
    def kind(self) -> str:
        return "mac" if self.lanes == 1 else "dot"

    @property
    def top(self) -> str:
        """Verilog name of the design; equal for jobs whose designs are equal."""
        top = f"cost_{self.kind}_{self.precision}_{self.lanes}_{self.architecture}"
        if self.architecture in ("compressor", "constant"):
            top += f"_lut{LUT_INPUTS[self.fabric]}"
        return top

    @property
    def has_multiplier(self) -> bool:
        return self.precision not in ("1", "ternary")


def sweep_jobs(precisions: Iterable[str] = DEFAULT_PRECISIONS,
               lanes: Iterable[int] = DEFAULT_LANES, fabrics: Iterable[str] = tuple(FABRICS),
               dsp: Iterable[bool] = (False, True),
               architectures: Iterable[str] = ARCHITECTURES) -> list[Job]:
    """Return the jobs of a sweep: a MAC and every dot product per precision, fabric, DSP flag.

    Raises
    ------
    ValueError
        If a precision, lane count, fabric or architecture is invalid.
    """
    names = [parse_precision(p).name for p in precisions]
    lanes = list(lanes)
    for count in lanes:
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise ValueError(f"lanes must be integers of at least 2, not {count!r}")
    fabrics = list(fabrics)
    for fabric in fabrics:
        if fabric not in FABRICS:
            raise ValueError(f"fabric must be one of {', '.join(FABRICS)}, not {fabric!r}")
    architectures = list(architectures)
    for architecture in architectures:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"not {architecture!r}")
    jobs = []
    for fabric in fabrics:
        for flag in dsp:
            for name in names:
                jobs.append(Job(name, 1, fabric, flag, "mac"))
                for count in lanes:
                    for architecture in (architectures if name == "1" else ["adder_tree"]):
                        jobs.append(Job(name, count, fabric, flag, architecture))
    return jobs


def design_verilog(job: Job) -> tuple[str, bool, int]:
    """Return ``(verilog, flatten, latency)`` of a job's design."""
    return _design_verilog(job.top, job.precision, job.lanes, job.architecture,
                           LUT_INPUTS[job.fabric])


@functools.lru_cache(maxsize=None)
def _design_verilog(top: str, precision: str, lanes: int, architecture: str,
                    lut_inputs: int) -> tuple[str, bool, int]:
    from amaranth.back import verilog

    job = Job(precision, lanes, "xc7", False, architecture)

    precision = parse_precision(job.precision)
    if job.kind == "mac":
        mac = Mac(precision, MAC_TERMS)
        return verilog.convert(mac, name=top, emit_src=False), True, 1
    if precision.name == "1":
        unit = XnorPopcount(job.lanes, job.architecture, lut_inputs=lut_inputs,
                            weights=(constant_weights(job.lanes)
                                     if job.architecture == "constant" else None))
        return verilog.convert(unit, name=top, emit_src=False), True, unit.latency
    # many identical wide lanes: map the lane module once
    return dot_verilog(precision, job.lanes, top), False, 0


def _cache_key(verilog: str, job: Job, flatten: bool, yosys: str) -> str:
    flags = (f"{job.top}|{job.fabric}|{job.dsp if job.has_multiplier else 'any'}|{flatten}|{yosys}"
             f"|{counting_scheme(job.fabric)}")
    return hashlib.sha256(verilog.encode() + flags.encode()).hexdigest()[:24]


def _synthesize_job(job: Job, verilog: str, flatten: bool, cache: Path, key: str) -> dict:
    result_path = cache / f"{key}.json"
    if result_path.exists():
        return {**json.loads(result_path.read_text()), "cached": True}
    source = cache / f"{key}.v"
    source.write_text(verilog)
    log = cache / f"{key}.log"
    start = time.monotonic()
    try:
        resources = synthesize(source, job.top, job.fabric, dsp=job.dsp, log=log,
                               flatten=flatten)
    except SynthesisError as error:
        return {"error": str(error), "log": str(log), "cached": False}
    result = {"lut": resources.lut, "ff": resources.ff, "carry": resources.carry,
              "dsp": resources.dsp, "bram": resources.bram, "lutram": resources.lutram,
              "seconds": round(time.monotonic() - start, 2)}
    result_path.write_text(json.dumps(result))
    return {**result, "cached": False}


def run_sweep(jobs: Sequence[Job], *, cache: str | os.PathLike = DEFAULT_CACHE,
              workers: int | None = None,
              progress: Callable[[Job, dict], None] | None = None) -> list[dict]:
    """Synthesize every job (or read it from the cache) and return one record per job.

    Each record holds the job's fields (``dsp`` renamed ``dsp_inference``), ``kind``, ``bits``,
    the cell counts ``lut``, ``ff``, ``carry``, ``dsp``, ``bram``, ``lutram``, ``lut_per_lane``,
    ``latency`` (cycles), ``ratio_to_1bit`` (LUTs per lane over those of the cheapest 1-bit
    design with run-time weights of the same kind, lanes, fabric and DSP flag), the design hash
    and whether it came from the cache. A failed synthesis gives a record with ``error`` and
    ``log`` instead of counts.

    Parameters
    ----------
    jobs : sequence of Job
        What to synthesize.
    cache : path
        Cache directory.
    workers : int, optional
        Parallel Yosys processes (default: the number of CPUs).
    progress : callable, optional
        Called as ``progress(job, record)`` when a job finishes.

    Raises
    ------
    ToolMissingError
        If Yosys is not installed.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    yosys = tool_version("yosys")
    prepared = []
    records: dict[int, dict] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        by_key: dict[str, Future] = {}
        waiting: dict[Future, list[int]] = {}
        # generate in this thread while Yosys runs the designs already generated
        for index, job in enumerate(jobs):
            verilog, flatten, latency = design_verilog(job)
            key = _cache_key(verilog, job, flatten, yosys)
            prepared.append((job, latency, key))
            if key not in by_key:  # equal designs (no multiplier, either DSP flag) run once
                by_key[key] = pool.submit(_synthesize_job, job, verilog, flatten, cache, key)
            waiting.setdefault(by_key[key], []).append(index)
        for future in as_completed(waiting):
            for index in waiting[future]:
                job, latency, key = prepared[index]
                record = {**_job_fields(job), "latency": latency, "design_hash": key,
                          **future.result()}
                if "lut" in record:
                    record["lut_per_lane"] = round(record["lut"] / job.lanes, 4)
                records[index] = record
                if progress is not None:
                    progress(job, record)
    ordered = [records[i] for i in range(len(prepared))]
    _add_ratios(ordered)
    return ordered


def _job_fields(job: Job) -> dict:
    fields = asdict(job)
    fields["dsp_inference"] = fields.pop("dsp")
    return {"kind": job.kind, "bits": parse_precision(job.precision).bits, **fields}


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


def write_json(records: list[dict], path: str | os.PathLike, tools: dict | None = None) -> None:
    """Write the records and the tool versions as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": SCHEMA, "tools": tools or {}, "records": records},
                               indent=1) + "\n")


CSV_FIELDS = ("fabric", "dsp_inference", "kind", "precision", "bits", "lanes", "architecture",
              "lut", "ff", "carry", "dsp", "bram", "lutram", "lut_per_lane", "ratio_to_1bit",
              "latency", "fmax_mhz", "design_hash", "error")


def write_csv(records: list[dict], path: str | os.PathLike) -> None:
    """Write the records as CSV, one row each, with the columns of :data:`CSV_FIELDS`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: record.get(k, "") for k in CSV_FIELDS})


def plot_series(records: list[dict]) -> dict[str, list[tuple[float, float, str]]]:
    """Return, per fabric, ``(bit width, LUTs per lane, precision)`` of the widest dot products.

    Uses the largest lane count, LUT-only arithmetic and, for 1-bit operands, the cheapest
    architecture with run-time weights; ternary sits at ``log2(3)`` bits.
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
        points = [(1.585 if name == "ternary" else float(name), value, name)
                  for name, value in best.items()]
        series[fabric] = sorted(points)
    return series


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
                  label=f"{fabric} (LUT{LUT_INPUTS[fabric]})")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks([1, 1.585, 2, 4, 8, 16, 32], ["1", "T", "2", "4", "8", "16", "32"])
    axes.set_xlabel("operand width (bits; T = ternary)")
    axes.set_ylabel("LUTs per lane (no DSP)")
    axes.set_title(title or "Dot-product cost per lane")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
