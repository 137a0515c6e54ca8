"""No lost output: atomic writers, the output lock, and commands interrupted by SIGINT/SIGTERM.

The interrupt tests run real processes: the command line (``python -m qnnforge generate``) or a
writer in a child process, signalled once a marker shows it started (the output's lock file, or
the writer's temporary file), and then check that the previous output is byte-identical and no
temporary or lock file is left.

A process started in the background by a non-interactive shell (``make test &``, ``nohup``)
inherits SIGINT ignored, and Python then raises no KeyboardInterrupt: these tests put the
default SIGINT handling back, in the test process and in every child, so what they check does
not depend on how the suite was launched.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qnnforge.sw import files
from qnnforge.sw.files import (OutputLockedError, Terminated, lock_path, output_lock,
                               replace_together, save_npy_atomic, save_npz_atomic,
                               sigterm_as_exit, write_atomic, write_bytes_atomic)

from .hw.layers import random_network

ROOT = Path(__file__).resolve().parent.parent
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "qnnforge: interrupted"),
           "SIGTERM": (signal.SIGTERM, 143, "qnnforge: interrupted (SIGTERM)")}


@pytest.fixture(autouse=True)
def interruptible():
    """Raise KeyboardInterrupt on SIGINT in this test, whatever the suite inherited."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _sigint_default() -> None:
    """Run in a child before it starts: SIGINT back to its default, so Python (which keeps an
    inherited SIG_IGN) installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _hidden(folder: Path) -> list[str]:
    """Temporary and lock files (every one starts with a dot) in ``folder`` and below."""
    return sorted(str(path) for path in folder.rglob(".*"))


def _wait_for(condition, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the process ended first: {process.communicate()}"
        assert time.monotonic() < deadline, "the process never reached its marker"
        time.sleep(0.002)


def _child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)


# --- atomic writers ------------------------------------------------------------------------------

def test_writers_write_whole_files_with_no_temporary_left(tmp_path):
    write_atomic(tmp_path / "a" / "text.json", "{}\n")
    write_bytes_atomic(tmp_path / "a" / "raw.bin", b"\x00\xff")
    save_npz_atomic(tmp_path / "a" / "arrays.npz", x=np.arange(5), y=np.eye(2, dtype=np.int8))
    save_npy_atomic(tmp_path / "a" / "codes.npy", np.array([[1, -2]], dtype=np.int64))
    assert (tmp_path / "a" / "text.json").read_text() == "{}\n"
    assert (tmp_path / "a" / "raw.bin").read_bytes() == b"\x00\xff"
    with np.load(tmp_path / "a" / "arrays.npz") as arrays:
        np.testing.assert_array_equal(arrays["x"], np.arange(5))
        np.testing.assert_array_equal(arrays["y"], np.eye(2, dtype=np.int8))
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "codes.npy"), [[1, -2]])
    assert oct((tmp_path / "a" / "text.json").stat().st_mode & 0o777) == "0o644"
    assert _hidden(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "codes.npy"
    save_npy_atomic(path, np.arange(3))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"^Object arrays cannot be saved when "
                                         r"allow_pickle=False$"):
        save_npy_atomic(path, np.array([object()]))
    assert path.read_bytes() == before
    assert _hidden(tmp_path) == []


def test_replace_together_changes_nothing_when_a_file_fails(tmp_path):
    first, second = tmp_path / "top.v", tmp_path / "design.json"
    first.write_text("old verilog")
    second.write_text("old summary")
    with pytest.raises(TypeError, match=r"^a bytes-like object is required, not 'int'$"):
        replace_together({first: "new verilog", second: 42})  # staged after the first
    assert (first.read_text(), second.read_text()) == ("old verilog", "old summary")
    assert _hidden(tmp_path) == []


def test_replace_together_holds_an_interrupt_until_every_file_is_replaced(tmp_path,
                                                                          monkeypatch):
    paths = [tmp_path / f"file{i}" for i in range(3)]
    for path in paths:
        path.write_text("old")
    replace = os.replace
    calls = []

    def replace_then_interrupt(source, target):
        replace(source, target)
        calls.append(target)
        if len(calls) == 1:  # Ctrl-C right after the first rename
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(files.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        replace_together({path: "new" for path in paths})
    assert len(calls) == 3
    assert [path.read_text() for path in paths] == ["new"] * 3
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_a_writer_signalled_mid_write_leaves_the_old_file_whole(name, tmp_path):
    signum, status, _ = SIGNALS[name]
    path = tmp_path / "vectors.npz"
    save_npz_atomic(path, codes=np.arange(10))
    before = path.read_bytes()
    process = _child(f"""
        import sys
        import numpy as np
        from qnnforge.sw.files import Terminated, save_npz_atomic, sigterm_as_exit
        try:
            with sigterm_as_exit():
                save_npz_atomic({str(path)!r}, codes=np.ones(40_000_000, dtype=np.int64))
        except KeyboardInterrupt:
            sys.exit(130)
        except Terminated:
            sys.exit(143)
        """)
    try:
        _wait_for(lambda: any(tmp_path.glob(".vectors.npz.*.tmp")), process)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert path.read_bytes() == before
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_an_interrupt_at_any_moment_of_a_writing_loop_is_honoured_and_cleaned_up(name,
                                                                                    tmp_path):
    # A writer that writes small files in a loop spends most of its time in the narrow steps
    # (creating the temporary file, renaming, swapping signal handlers), so random delays
    # land interrupts there: each must end the process, and no temporary file may be left.
    # One write comes before the marker: the first one imports modules lazily, and CPython
    # drops a KeyboardInterrupt raised inside import's weakref callbacks ("Exception ignored
    # in: <function _get_module_lock.<locals>.cb>"), a loss no writer can prevent.
    signum, status, _ = SIGNALS[name]
    rng = np.random.default_rng(14)
    for attempt, delay in enumerate(rng.uniform(0.0, 0.05, size=12)):
        folder = tmp_path / str(attempt)
        process = _child(f"""
            import sys
            import numpy as np
            from qnnforge.sw.files import (Terminated, replace_together, save_npz_atomic,
                                           sigterm_as_exit)
            def write():
                save_npz_atomic({str(folder / "v.npz")!r}, codes=np.arange(1000))
                replace_together({{{str(folder / "a.v")!r}: "a" * 1000,
                                   {str(folder / "b.json")!r}: b"{{}}"}})
            write()
            print("writing", flush=True)
            try:
                with sigterm_as_exit():
                    while True:
                        write()
            except KeyboardInterrupt:
                sys.exit(130)
            except Terminated:
                sys.exit(143)
            """)
        try:
            assert process.stdout.readline() == "writing\n"
            time.sleep(delay)
            process.send_signal(signum)
            _, err = process.communicate(timeout=30)  # a lost signal: the loop runs on, timeout
        finally:
            process.kill()
        assert (attempt, process.returncode) == (attempt, status), err
        assert _hidden(folder) == []


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), Terminated("received signal 15")],
                         ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_that_a_writer_turns_into_another_error_stays_an_interrupt(
        interrupt, tmp_path, monkeypatch):
    # zipfile interrupted while closing an entry raises "Can't close the ZIP file while there
    # is an open writing handle on it" from np.savez: seen once in 30 stress runs, exit 1
    def savez(file, **arrays):
        try:
            raise interrupt
        finally:
            raise ValueError("Can't close the ZIP file while there is an open writing handle")

    path = tmp_path / "v.npz"
    save_npz_atomic(path, codes=np.arange(3))
    before = path.read_bytes()
    monkeypatch.setattr(files.np, "savez", savez)
    with pytest.raises(type(interrupt)):
        save_npz_atomic(path, codes=np.arange(5))
    assert path.read_bytes() == before
    assert _hidden(tmp_path) == []
    monkeypatch.setattr(files.np, "savez", lambda file, **arrays: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # an error of its own stays what it is
        save_npz_atomic(path, codes=np.arange(5))


class _RaisingFinalizer:
    """An object whose finalizer raises ``error``, as when a signal's handler runs in it."""

    def __init__(self, error: BaseException):
        self.error = error

    def __del__(self):
        raise self.error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), Terminated("received signal 15")],
                         ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_a_finalizer_drops_is_sent_again(error):
    # CPython drops an exception raised in a finalizer (it reports "Exception ignored"): it
    # lost 2 interrupts in 40 stress runs of this file, in import's weakref callbacks
    hook = sys.unraisablehook
    start = time.monotonic()
    with pytest.raises(type(error)):
        with sigterm_as_exit():
            _RaisingFinalizer(error)  # finalized at once; its exception is dropped
            time.sleep(10)  # the interrupt sent again ends this
    assert time.monotonic() - start < 5
    assert sys.unraisablehook is hook


def test_other_exceptions_a_finalizer_drops_go_to_the_previous_hook(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(
        str(unraisable.exc_value)))
    with sigterm_as_exit():
        _RaisingFinalizer(ValueError("not an interrupt"))
        time.sleep(0.1)
    assert reported == ["not an interrupt"]


def test_sigterm_raises_terminated_inside_the_block_only():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated, match=r"^received signal 15$"):
        with sigterm_as_exit():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this at once
    assert signal.getsignal(signal.SIGTERM) is previous
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(sigterm_as_exit().__enter__()))
    thread.start()
    thread.join()
    assert outcome == [None]  # no handler can be installed outside the main thread; no error


# --- the output lock ---------------------------------------------------------------------------

def test_a_second_process_fails_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "hw"
    holder = _child(f"""
        import sys
        from qnnforge.sw.files import output_lock
        with output_lock({str(out)!r}):
            print("held", flush=True)
            sys.stdin.readline()
        """)
    try:
        assert holder.stdout.readline() == "held\n"
        assert lock_path(out).read_text() == f"{holder.pid}\n"
        started = time.monotonic()
        with pytest.raises(OutputLockedError, match=(
                rf"^{out} is being written by another qnnforge run \(pid {holder.pid}\); wait "
                rf"for it to end or choose another output$")):
            with output_lock(out):
                pass
        assert time.monotonic() - started < 1  # it does not wait
        holder.communicate("\n", timeout=30)
    finally:
        holder.kill()
    assert holder.returncode == 0
    assert not lock_path(out).exists()
    with output_lock(out) as path:  # free again
        assert path.read_text() == f"{os.getpid()}\n"
    assert _hidden(tmp_path) == []


def test_a_lock_file_left_by_a_killed_run_is_taken_over(tmp_path):
    out = tmp_path / "model"
    lock_path(out).write_text("999999999\n")  # no process holds it
    with output_lock(out) as path:
        assert path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()


@pytest.fixture
def small_artifact(tmp_path):
    return random_network(np.random.default_rng(0), [48, 32, 16, 4]).save(tmp_path / "model")


def _generate(artifact: Path, out: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qnnforge", "generate", str(artifact),
                             "--out", str(out), *options], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default)


def test_generate_into_a_folder_in_use_is_refused_and_leaves_it_whole(small_artifact,
                                                                      tmp_path):
    out = tmp_path / "hw"
    first = _generate(small_artifact, out, "--target-cycles", "16")
    assert first.communicate(timeout=120)[1] == "" and first.returncode == 0
    before = _snapshot(out)
    with output_lock(out):  # another run holds the folder
        second = _generate(small_artifact, out)
        _, err = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err == (f"qnnforge: error: {out} is being written by another qnnforge run "
                   f"(pid {os.getpid()}); wait for it to end or choose another output\n")
    assert _snapshot(out) == before


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_interrupted_generate_leaves_the_previous_design_whole(name, small_artifact, tmp_path):
    """The previous design has another folding, so any file the interrupted run wrote would
    differ; it is signalled as soon as it holds the folder."""
    signum, status, message = SIGNALS[name]
    out = tmp_path / "hw"
    first = _generate(small_artifact, out, "--target-cycles", "16")
    assert first.communicate(timeout=120)[1] == "" and first.returncode == 0
    before = _snapshot(out)
    assert json.loads(before["design.json"])["cycles_per_inference"] <= 16
    run = _generate(small_artifact, out)
    try:
        _wait_for(lock_path(out).exists, run)
        run.send_signal(signum)
        _, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert (run.returncode, err.splitlines()[-1]) == (status, message), err
    assert _snapshot(out) == before
    assert _hidden(tmp_path) == []


def test_train_terminated_mid_run_leaves_the_previous_artifact_whole(tmp_path):
    out = random_network(np.random.default_rng(1), [64, 8, 10]).save(tmp_path / "model")
    (out / "train.json").write_text('{"previous": true}\n')
    before = _snapshot(out)
    run = subprocess.Popen([sys.executable, "-m", "qnnforge", "train", "--out", str(out),
                            "--epochs", "50"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)
    try:
        _wait_for(lock_path(out).exists, run)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert (run.returncode, err.splitlines()[-1]) == (143, "qnnforge: interrupted (SIGTERM)")
    assert _snapshot(out) == before
    assert _hidden(tmp_path) == []
