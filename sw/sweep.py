"""The sweep engine: independent jobs on a Dask cluster, each result cached on disk by content.

A sweep (the cost explorer's syntheses, the sensitivity's trainings, the precision search) is a
list of :class:`Job`: a picklable top-level function, its arguments and a label. :func:`run_jobs`
runs them on `dask.distributed <https://distributed.dask.org>`_ and returns their results in
order::

    results = run_jobs([Job(train_one, (config,), label="fc1 at int2"), ...],
                       cache="build/sweep-cache")

Where the jobs run
    By default on a ``LocalCluster`` of this machine: one single-threaded worker process per core
    (``workers`` to choose), each with an equal share of the memory (Dask's ``"auto"`` limit), its
    dashboard on a free port (``client.dashboard_link``). ``scheduler="tcp://HOST:8786"`` sends them
    to a running cluster instead (started with ``dask scheduler`` and ``dask worker
    tcp://HOST:8786`` on machines that have qnnforge installed); an existing ``distributed.Client``
    may be passed as well, so that one cluster serves several calls. No cluster is started when
    every job is cached.

What is cached
    A job's key is the SHA-256 of its function's module and name, its arguments (pickled) and
    its ``version``, a string the caller sets to whatever makes an earlier result wrong (tool
    versions, :func:`source_version` of the code the job runs); a job may also carry its own
    key. The result, which must be JSON (dicts, lists, strings, numbers, booleans, None), is
    written to ``CACHE/KEY.json`` by the client as the job completes, so the cache lives on the
    machine that runs the sweep even when the workers are elsewhere. A rerun reads every
    finished job from the cache and submits only the others; jobs of equal keys in one sweep run
    once. (A job's Dask key is its content key and a token of the submission: a key that an
    earlier sweep of the same client cancelled would otherwise come back cancelled.) Fresh
    results are returned as the cache would return them (through JSON: a tuple comes back a
    list), so a rerun gives equal values.

Failures
    A job that raises stops the sweep with a :class:`JobError` naming the job's label, the
    exception chained as its cause (a :class:`JobUserError`, which the command line prints as
    one line, where the cause is a :class:`~.errors.QnnforgeError`); ``errors="return"`` puts
    the :class:`JobError` in the job's place instead and goes on. Failed jobs are not cached.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import pickle
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import QnnforgeError
from .files import write_atomic

__all__ = ["Job", "JobError", "JobUserError", "SweepError", "SchedulerAddressError",
           "run_jobs", "open_client", "check_scheduler", "job_key", "source_version"]

SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?"
                               r"|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$")
"""A Dask scheduler address: ``tcp://`` or ``tls://``, a host name, IPv4 or bracketed IPv6
address, and a port."""
CONNECT_TIMEOUT_S = 10
"""How long :func:`open_client` waits for a scheduler given by address."""


class SweepError(QnnforgeError):
    """A sweep cannot run: its cluster is unreachable or its options are invalid."""


class SchedulerAddressError(SweepError, ValueError):
    """A scheduler address is not of the form ``tcp://HOST:PORT``."""


class JobError(RuntimeError):
    """A job of a sweep raised an exception (its ``__cause__``, also ``error``).

    Attributes
    ----------
    label : str
        The job's label.
    error : BaseException
        What the job raised.
    """

    def __init__(self, label: str, error: BaseException):
        super().__init__(f"job {label!r} failed: {type(error).__name__}: {error}")
        self.label = label
        self.error = error


class JobUserError(JobError, QnnforgeError):
    """A job of a sweep failed with a user's error (a :class:`~.errors.QnnforgeError`)."""


@dataclass(frozen=True)
class Job:
    """One independent piece of work of a sweep.

    Attributes
    ----------
    function : callable
        A top-level function (workers import it by module and name); it returns JSON data.
    args : tuple
        Positional arguments (picklable, with a deterministic pickle: no sets).
    kwargs : mapping
        Keyword arguments (the same).
    label : str
        How progress and errors name the job (default: the function's name).
    version : str
        Part of the cache key: whatever makes an earlier result of the same call wrong.
    key : str, optional
        The cache key itself, where the caller has a better one (it must be a valid file name).

    Raises
    ------
    TypeError
        If ``function`` is not a top-level function, or ``args`` is not a tuple.
    ValueError
        If ``key`` is not a file name of letters, digits, ``-`` and ``_``.
    """

    function: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    version: str = ""
    key: str | None = None

    def __post_init__(self) -> None:
        name = getattr(self.function, "__qualname__", None)
        if not callable(self.function) or name is None or "<" in name or "." in name:
            raise TypeError(f"job function must be a top-level function, not "
                            f"{self.function!r}")
        if not isinstance(self.args, tuple):
            raise TypeError(f"job args must be a tuple, not {type(self.args).__name__}")
        if self.key is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", self.key):
            raise ValueError(f"job key must be 1 to 128 letters, digits, '-' or '_', not "
                             f"{self.key!r}")
        if not self.label:
            object.__setattr__(self, "label", name)

    @property
    def name(self) -> str:
        """The function's module and name, ``package.module.function``."""
        return f"{self.function.__module__}.{self.function.__qualname__}"


def job_key(job: Job) -> str:
    """Return the job's cache key: its own, or 24 hex digits of the SHA-256 of its function's
    name, its pickled arguments and its version."""
    if job.key is not None:
        return job.key
    digest = hashlib.sha256()
    for part in (job.name.encode(), job.version.encode(),
                 pickle.dumps((job.args, sorted(job.kwargs.items())), protocol=4)):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:24]


def source_version(*sources: ModuleType | Callable[..., Any]) -> str:
    """Return 16 hex digits of the SHA-256 of the source of modules or functions (a
    :attr:`Job.version` that changes whenever the code a job runs does)."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(inspect.getsource(source).encode())
    return digest.hexdigest()[:16]


def check_scheduler(address: str) -> str:
    """Return ``address`` if it is a Dask scheduler address ``tcp://HOST:PORT``.

    Raises
    ------
    SchedulerAddressError
        If it is not (``tls://`` is accepted too; the port must lie in 1..65535).
    """
    match = SCHEDULER_ADDRESS.match(address) if isinstance(address, str) else None
    if match is None or not 1 <= int(match.group(4)) <= 65535:
        raise SchedulerAddressError(f"scheduler must be an address tcp://HOST:PORT, not "
                                    f"{address!r}")
    return address


def _check_workers(workers: int | None) -> None:
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 1):
        raise SweepError(f"workers must be a positive integer, not {workers!r}")


@contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client``: of a new local cluster, or of the scheduler at an address.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (:func:`check_scheduler`); by default a
        ``LocalCluster`` of ``workers`` single-threaded processes is started, and closed on
        exit.
    workers : int, optional
        Worker processes of the local cluster (default: the number of CPUs); ignored with
        ``scheduler``.

    Raises
    ------
    SchedulerAddressError
        If ``scheduler`` is not an address.
    SweepError
        If ``workers`` is not a positive integer, or no scheduler answers at the address within
        :data:`CONNECT_TIMEOUT_S` seconds.
    """
    from distributed import Client, LocalCluster

    _check_workers(workers)
    if scheduler is not None:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                      processes=True, memory_limit="auto", dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[cached]} cached"), TimeElapsedColumn(),
                    TextColumn("{task.fields[last]}"))


def _call(function: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> Any:
    """Run one job on a worker."""
    return function(*args, **kwargs)


OnDone = Callable[[int, Job, Any, bool], None]
"""Called as ``on_done(index, job, result, cached)`` as each job completes (``result`` is a
:class:`JobError` for a failed job under ``errors="return"``)."""


def run_jobs(jobs: Sequence[Job], *, scheduler: str | Any | None = None,
             workers: int | None = None, cache: str | os.PathLike | None = None,
             progress: bool | Any = True, errors: str = "raise",
             description: str = "jobs", on_done: OnDone | None = None) -> list:
    """Run independent jobs on Dask, reading and writing each result in a cache by content.

    Parameters
    ----------
    jobs : sequence of Job
        What to run.
    scheduler : str or distributed.Client, optional
        Address of a running scheduler (``tcp://HOST:8786``) or a client already connected;
        by default a local cluster (:func:`open_client`), started only if a job is not cached.
    workers : int, optional
        Worker processes of the local cluster (default: the number of CPUs).
    cache : path, optional
        Directory of cached results (created if missing); None caches nothing.
    progress : bool or rich.progress.Progress
        Show a progress bar of the jobs as they complete (True: one of its own; a ``Progress``:
        a task in it).
    errors : {"raise", "return"}
        On a job's exception, raise its :class:`JobError` (cancelling the jobs still queued), or
        return the :class:`JobError` in the job's place.
    description : str
        The progress bar's title.
    on_done : callable, optional
        See :data:`OnDone`.

    Returns
    -------
    list
        One result per job, in the order of ``jobs``.

    Raises
    ------
    JobError
        If a job raises and ``errors="raise"``; a :class:`JobUserError` where what it raised
        is a :class:`~.errors.QnnforgeError`.
    TypeError
        If a result is not JSON, naming the job.
    SweepError, SchedulerAddressError
        See :func:`open_client`; also if ``errors`` is neither value.
    """
    if errors not in ("raise", "return"):
        raise SweepError(f"errors must be 'raise' or 'return', not {errors!r}")
    _check_workers(workers)
    if isinstance(scheduler, str):
        check_scheduler(scheduler)
    jobs = list(jobs)
    keys = [job_key(job) for job in jobs]
    directory = Path(cache) if cache is not None else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    results: list[Any] = [None] * len(jobs)
    display = _progress_bar() if progress is True else progress or None
    with display if progress is True else nullcontext():
        task = (display.add_task(description, total=len(jobs), cached=0, last="")
                if display is not None else None)
        cached = 0

        def finish(index: int, result: Any, from_cache: bool) -> None:
            nonlocal cached
            results[index] = result
            cached += from_cache
            if display is not None:
                display.update(task, advance=1, cached=cached, last=jobs[index].label)
            if on_done is not None:
                on_done(index, jobs[index], result, from_cache)

        waiting: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            entry = directory / f"{key}.json" if directory is not None else None
            if entry is not None and entry.exists():
                finish(index, json.loads(entry.read_text()), True)
            else:
                waiting.setdefault(key, []).append(index)
        if waiting:
            _submit(jobs, waiting, scheduler, workers, directory, errors, finish)
    return results


def _client(scheduler: str | Any | None, workers: int | None):
    if scheduler is None or isinstance(scheduler, str):
        return open_client(scheduler, workers)
    return nullcontext(scheduler)


def _submit(jobs: list[Job], waiting: dict[str, list[int]], scheduler: str | Any | None,
            workers: int | None, directory: Path | None, errors: str,
            finish: Callable[[int, Any, bool], None]) -> None:
    """Run the jobs not cached (one per key in ``waiting``) and finish each as it completes."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    with _client(scheduler, workers) as client:
        futures = {}
        for key, indices in waiting.items():
            job = jobs[indices[0]]
            futures[client.submit(_call, job.function, job.args, dict(job.kwargs),
                                  key=f"qnnforge-job-{key}-{token}", pure=False,
                                  retries=0)] = key
        try:
            for future in as_completed(futures):
                key = futures[future]
                job = jobs[waiting[key][0]]
                if future.status == "error":
                    error = future.exception()
                    failure = (JobUserError if isinstance(error, QnnforgeError)
                               else JobError)(job.label, error)
                    failure.__cause__ = error.with_traceback(future.traceback())
                    if errors == "raise":
                        raise failure
                    outcome = failure
                else:
                    outcome = _through_json(job, future.result())
                    if directory is not None:
                        write_atomic(directory / f"{key}.json", json.dumps(outcome))
                for index in waiting[key]:
                    finish(index, outcome, False)
                future.release()
        except BaseException:
            client.cancel(list(futures))
            raise


def _through_json(job: Job, result: Any) -> Any:
    """Return ``result`` as the cache gives it back (tuples as lists), or raise naming the job."""
    try:
        return json.loads(json.dumps(result, allow_nan=True))
    except (TypeError, ValueError) as error:
        raise TypeError(f"job {job.label!r} returned a result that is not JSON: {error}") from None
