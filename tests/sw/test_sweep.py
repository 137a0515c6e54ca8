"""The sweep engine: content keys, the cache, failures naming the job, scheduler addresses, and
jobs run on a local Dask cluster of two worker processes."""

import csv
import json
import math

import pytest

from qnnforge.sw.errors import QnnforgeError
from qnnforge.sw.sweep import (Job, JobError, JobUserError, SchedulerAddressError, SweepError,
                               check_scheduler, job_key, open_client, run_jobs, source_version)


def square_and_log(path: str, value: int) -> dict:
    """A job that leaves a trace of each run in ``path``."""
    with open(path, "a") as log:
        log.write(f"{value}\n")
    return {"value": value, "square": value * value, "pair": (value, -value)}


def fail_if_odd(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


def user_error() -> None:
    raise SweepError("the user's fault")


def not_json() -> object:
    return {1, 2}


@pytest.fixture(scope="module")
def client():
    with open_client(workers=2) as client:
        yield client


def test_a_local_cluster_has_the_workers_asked_for(client):
    workers = client.scheduler_info()["workers"].values()
    assert len(workers) == 2
    assert all(worker["nthreads"] == 1 for worker in workers)


def test_jobs_run_on_the_cluster_and_a_rerun_reads_the_cache(client, tmp_path):
    log = tmp_path / "runs.txt"
    jobs = [Job(square_and_log, (str(log), value), label=f"square {value}")
            for value in (3, 4, 3)]  # the repeated job runs once
    seen = []
    results = run_jobs(jobs, scheduler=client, cache=tmp_path / "cache", progress=False,
                       on_done=lambda index, job, result, cached: seen.append((index, cached)))
    assert results == [{"value": 3, "square": 9, "pair": [3, -3]},
                       {"value": 4, "square": 16, "pair": [4, -4]},
                       {"value": 3, "square": 9, "pair": [3, -3]}]
    assert sorted(seen) == [(0, False), (1, False), (2, False)]
    assert sorted(log.read_text().split()) == ["3", "4"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    seen.clear()
    again = run_jobs(jobs, scheduler=client, cache=tmp_path / "cache", progress=False,
                     on_done=lambda index, job, result, cached: seen.append((index, cached)))
    assert again == results
    assert sorted(seen) == [(0, True), (1, True), (2, True)]
    assert sorted(log.read_text().split()) == ["3", "4"]  # no job ran again


def test_a_fully_cached_sweep_starts_no_cluster(tmp_path, monkeypatch):
    import qnnforge.sw.sweep as sweep

    job = Job(math.factorial, (5,))
    (tmp_path / f"{job_key(job)}.json").write_text("120")

    def no_cluster(*args):
        raise AssertionError("a cluster was started")
    monkeypatch.setattr(sweep, "open_client", no_cluster)
    assert run_jobs([job], cache=tmp_path, progress=False) == [120]


def test_a_failure_names_the_job(client, tmp_path):
    jobs = [Job(fail_if_odd, (value,), label=f"value {value}") for value in (2, 3)]
    with pytest.raises(JobError, match=r"^job 'value 3' failed: ValueError: 3 is odd$") as error:
        run_jobs(jobs, scheduler=client, cache=tmp_path, progress=False)
    assert isinstance(error.value.__cause__, ValueError)
    assert not isinstance(error.value, QnnforgeError)  # a bug keeps its traceback


def test_errors_return_puts_the_failure_in_place_and_does_not_cache_it(client, tmp_path):
    jobs = [Job(fail_if_odd, (value,), label=f"value {value}") for value in (2, 3)]
    results = run_jobs(jobs, scheduler=client, cache=tmp_path, progress=False, errors="return")
    assert results[0] == 2
    assert isinstance(results[1], JobError) and results[1].label == "value 3"
    assert [path.read_text() for path in tmp_path.glob("*.json")] == ["2"]


def test_a_user_error_of_a_job_is_a_user_error(client):
    with pytest.raises(JobUserError, match=r"^job 'user_error' failed: SweepError: "
                                           r"the user's fault$"):
        run_jobs([Job(user_error)], scheduler=client, progress=False)


def test_a_result_must_be_json(client):
    with pytest.raises(TypeError, match=r"^job 'not_json' returned a result that is not JSON: "
                                        r"Object of type set is not JSON serializable$"):
        run_jobs([Job(not_json)], scheduler=client, progress=False)


def test_keys_follow_the_function_the_arguments_and_the_version():
    key = job_key(Job(math.factorial, (5,)))
    assert len(key) == 24 and key == job_key(Job(math.factorial, (5,), label="other label"))
    assert key != job_key(Job(math.factorial, (6,)))
    assert key != job_key(Job(math.factorial, (5,), version="tools 2"))
    assert key != job_key(Job(math.gcd, (5,)))
    assert key != job_key(Job(math.factorial, (), {"x": 5}))
    assert job_key(Job(math.factorial, (5,), key="mine")) == "mine"
    assert len(source_version(json)) == 16 and source_version(json) == source_version(json)
    assert source_version(json) != source_version(csv)


def test_jobs_validate():
    with pytest.raises(TypeError, match=r"^job function must be a top-level function, not "
                                        r"<function test_jobs_validate.<locals>.<lambda> at "):
        Job(lambda: 1)
    with pytest.raises(TypeError, match=r"^job args must be a tuple, not list$"):
        Job(math.factorial, [5])
    with pytest.raises(ValueError, match=r"^job key must be 1 to 128 letters, digits, '-' or "
                                         r"'_', not '\.\./x'$"):
        Job(math.factorial, (5,), key="../x")
    with pytest.raises(SweepError, match=r"^errors must be 'raise' or 'return', not 'ignore'$"):
        run_jobs([], errors="ignore")
    with pytest.raises(SweepError, match=r"^workers must be a positive integer, not 0$"):
        run_jobs([], workers=0)


@pytest.mark.parametrize("address", ["tcp://localhost:8786", "tcp://10.0.0.7:8786",
                                     "tls://scheduler.example.org:1", "tcp://[::1]:65535"])
def test_scheduler_addresses(address):
    assert check_scheduler(address) == address


@pytest.mark.parametrize("address", ["localhost:8786", "tcp://localhost", "http://host:8786",
                                     "tcp://host:0", "tcp://host:65536", "tcp://ho st:1",
                                     "tcp://-host:8786", ""])
def test_bad_scheduler_addresses_are_refused(address):
    pattern = r"^scheduler must be an address tcp://HOST:PORT, not '.*'$"
    with pytest.raises(SchedulerAddressError, match=pattern):
        check_scheduler(address)
    with pytest.raises(SchedulerAddressError, match=pattern):
        run_jobs([], scheduler=address)


def test_an_unreachable_scheduler_is_a_user_error(monkeypatch):
    import qnnforge.sw.sweep as sweep

    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(SweepError, match=r"^cannot reach the Dask scheduler at "
                                         r"tcp://127\.0\.0\.1:9: "):
        run_jobs([Job(math.factorial, (5,))], scheduler="tcp://127.0.0.1:9", progress=False)


def test_cli_refuses_a_bad_scheduler_address(capsys):
    from qnnforge.cli import main

    with pytest.raises(SystemExit):
        main(["cost", "--scheduler", "localhost:8786"])
    assert ("argument --scheduler: scheduler must be an address tcp://HOST:PORT, not "
            "'localhost:8786'") in capsys.readouterr().err
