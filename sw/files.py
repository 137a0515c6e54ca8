"""Outputs that no interrupt or second run can leave half-written.

* **Atomic files.** :func:`write_atomic` (text), :func:`write_bytes_atomic`,
  :func:`save_npz_atomic` and :func:`save_npy_atomic` write into a temporary file beside the
  target (``.<name>.<random>.tmp``) and rename it over the target, so a reader sees the old file
  or the new one, never half of one; on any exception, ``KeyboardInterrupt`` included, the
  temporary file is removed (its name is known before the file exists, so no interrupt can
  leave one behind). :func:`replace_together` writes several files so that an interrupt
  leaves all of them old or all of them new (a design's Verilog and its ``design.json``).
* **One run per output.** :func:`output_lock` holds an exclusive ``flock`` on
  ``.<name>.lock`` beside an output folder (or file) while a command writes into it. A second
  run into the same output fails at once with :class:`OutputLockedError`, naming the output and
  the holder's pid, rather than waiting: a run takes minutes, and two runs meant for one folder
  are a mistake to report, not to queue. The lock file is removed when the run ends; one left by
  a killed run (SIGKILL) holds no lock and is taken over.
* **SIGTERM cleans up like Ctrl-C.** :func:`sigterm_as_exit` turns SIGTERM into
  :class:`Terminated` (a ``BaseException``, like ``KeyboardInterrupt``), so the same ``finally``
  and ``except BaseException`` blocks remove temporary files and release locks. Inside it, an
  interrupt that CPython drops (a ``KeyboardInterrupt`` or ``Terminated`` raised while a
  finalizer or a weakref callback runs, which it only reports as "Exception ignored") is sent
  again, so a run never goes on after one.

An artifact directory is written the same way by :meth:`~qnnforge.sw.artifact.Artifact.save`
(a staged sibling directory renamed over it).
"""

from __future__ import annotations

import fcntl
import io
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from .errors import QnnforgeError

__all__ = ["write_atomic", "write_bytes_atomic", "write_output_file", "save_npz_atomic",
           "save_npy_atomic", "save_figure_atomic",
           "replace_together", "OutputLockedError", "output_lock", "lock_path", "Terminated",
           "sigterm_as_exit", "TEMPORARY_SUFFIX"]

TEMPORARY_SUFFIX = ".tmp"
"""Suffix of every temporary file, which is also hidden (its name starts with a dot)."""


class OutputLockedError(QnnforgeError, RuntimeError):
    """Another run is writing the same output folder."""


class Terminated(BaseException):
    """The process received SIGTERM (raised by :func:`sigterm_as_exit`'s handler)."""


def _stage(path: Path, write: Callable[[IO[bytes]], None], temporaries: list[Path]) -> Path:
    """Write a temporary file beside ``path`` with ``write``; return its path (not yet renamed).

    The temporary file's name is appended to ``temporaries`` before the file is created, so
    there is no moment at which it exists without the caller knowing of it, whenever an
    interrupt arrives: the caller removes everything in ``temporaries`` in its ``finally``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}"
        temporaries.append(temporary)
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:  # another writer's name (1 in 2**64): not ours to remove
            temporaries.pop()
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o644)  # whatever the umask, like a file written in place
        try:
            write(f)
        except Exception as error:
            interrupt = _interrupt_behind(error)
            if interrupt is None:
                raise
            raise interrupt from error
        f.flush()
        os.fsync(f.fileno())
    return temporary


def _signal_of(kind: type[BaseException] | None) -> int | None:
    """Return the signal an interrupt exception of ``kind`` stands for (SIGINT for
    ``KeyboardInterrupt``, SIGTERM for :class:`Terminated`), or None for any other."""
    if kind is not None:
        for interrupt, signum in ((KeyboardInterrupt, signal.SIGINT),
                                  (Terminated, signal.SIGTERM)):
            if issubclass(kind, interrupt):
                return signum
    return None


def _interrupt_behind(error: BaseException) -> BaseException | None:
    """Return the ``KeyboardInterrupt`` or :class:`Terminated` that ``error`` was raised while
    handling, if any: an interrupt inside a writer's cleanup can surface as another error
    (zipfile, interrupted while closing an entry, raises "Can't close the ZIP file while there
    is an open writing handle"), which must still end the run as an interrupt."""
    seen = set()
    cause = error.__context__
    while cause is not None and id(cause) not in seen:
        if _signal_of(type(cause)) is not None:
            return cause
        seen.add(id(cause))
        cause = cause.__context__
    return None


def _replace(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    temporaries: list[Path] = []
    try:
        os.replace(_stage(path, write, temporaries), path)
    finally:
        for temporary in temporaries:  # gone already after a successful rename
            temporary.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    _replace(Path(path), lambda f: f.write(text.encode()))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    _replace(Path(path), lambda f: f.write(data))


def save_figure_atomic(path: str | os.PathLike, figure) -> None:
    """Write a matplotlib ``figure`` to ``path`` as a PNG through a temporary file and a
    rename, and close it (figures left open pile up in pyplot's registry)."""
    from matplotlib import pyplot

    image = io.BytesIO()
    figure.savefig(image, format="png")
    pyplot.close(figure)
    write_bytes_atomic(path, image.getvalue())


def write_output_file(path: str | os.PathLike, data: bytes,
                      error: Callable[[str], Exception]) -> Path:
    """Write a user-named output file atomically, or raise ``error(message)`` naming why not.

    ``error`` builds the caller's own exception from a message that starts with the path: the
    path is a directory, a folder above it is a file, or the write failed (an existing file is
    then left as it was). Returns the path.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a directory")
    for parent in path.parents:  # the nearest existing folder above must be one
        if parent.exists():
            if not parent.is_dir():
                raise error(f"{path}: cannot write ({parent} is not a directory)")
            break
    try:
        write_bytes_atomic(path, data)
    except OSError as failure:
        raise error(f"{path}: cannot write ({failure.strerror or failure})") from None
    return path


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path`` (exactly that name) atomically."""
    _replace(Path(path), lambda f: np.savez(f, **arrays))


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as ``.npy`` at ``path`` (exactly that name, no pickles) atomically."""
    _replace(Path(path), lambda f: np.save(f, np.asarray(array), allow_pickle=False))


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back inside the block and deliver them after it.

    The main thread blocks both signals for the block (they stay pending in the kernel and
    arrive once it ends). Another thread of the process may still take one; Python would run
    its handler in the main thread inside the block, so the handlers are swapped for ones that
    note the signal, and the noted signals are raised again after the block. The handlers are
    restored while the signals are still blocked, so none can arrive half-way through the
    restore and be dropped. Outside the main thread no handler interrupts the block anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    pending: list[int] = []
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        previous = {signum: signal.signal(signum, lambda signum, frame: pending.append(signum))
                    for signum in held}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for signum in pending:
        signal.raise_signal(signum)


def replace_together(files: Mapping[str | os.PathLike, str | bytes]) -> None:
    """Write every file of ``files`` (path -> text or bytes) so that all change or none does.

    Every file is staged first; the renames then run with SIGINT and SIGTERM held back, so an
    interrupt arrives before the first rename (nothing changed, temporary files removed) or after
    the last (all changed).
    """
    temporaries: list[Path] = []
    try:
        staged = []
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            staged.append((_stage(Path(path), lambda f, data=data: f.write(data), temporaries),
                           Path(path)))
        with _signals_held():
            for temporary, path in staged:
                os.replace(temporary, path)
    finally:
        for temporary in temporaries:  # gone already after a successful rename
            temporary.unlink(missing_ok=True)


def lock_path(output: str | os.PathLike) -> Path:
    """Return the lock file of an output folder or file: ``.<name>.lock`` beside it."""
    output = Path(output).absolute()
    return output.parent / f".{output.name}.lock"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return pid if pid.isdigit() else "unknown"


@contextmanager
def output_lock(output: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of the output folder (or file) ``output`` while writing it.

    Yields the lock file's path, which holds the holder's pid; it is removed on exit.

    Raises
    ------
    OutputLockedError
        ``"<output> is being written by another qnnforge run (pid N); wait for it to end or
        choose another output"`` if another process holds the lock.
    """
    path = lock_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = None
    try:
        # an interrupt while the lock file is created and locked is delivered once `fd` holds
        # it, so the `finally` removes a lock file this run made
        with _signals_held():
            fd = _acquire(path, output)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        if fd is not None:
            path.unlink(missing_ok=True)  # still holding the lock, so no one else owns this file
            os.close(fd)


def _acquire(path: Path, output) -> int:
    """Create (or open) and lock the lock file ``path``; return its descriptor."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{output} is being written by another qnnforge run (pid {_holder(path)}); "
                f"wait for it to end or choose another output") from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and current.st_ino == os.fstat(fd).st_ino:
            return fd
        os.close(fd)  # the holder we waited on removed this lock file: lock the new one


def _terminate(signum, frame) -> None:
    raise Terminated(f"received signal {signum}")


_RESEND_AFTER_S = 0.01
"""How long after a dropped interrupt it is sent again: long enough for the finalizer that
dropped it, and the hook, to have returned."""


def _resend_dropped_interrupts(previous: Callable) -> Callable:
    """Return a ``sys.unraisablehook`` that sends a dropped ``KeyboardInterrupt`` (SIGINT) or
    :class:`Terminated` (SIGTERM) again from a helper thread, and leaves every other
    unraisable exception to ``previous``."""
    def hook(unraisable) -> None:
        signum = _signal_of(unraisable.exc_type)
        if signum is None:
            previous(unraisable)
            return

        def resend() -> None:
            time.sleep(_RESEND_AFTER_S)
            os.kill(os.getpid(), signum)

        threading.Thread(target=resend, name="qnnforge-resend-interrupt", daemon=True).start()
    return hook


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM inside the block, so that cleanup runs as for
    Ctrl-C, and send again any interrupt that a finalizer drops; the previous handler and
    ``sys.unraisablehook`` are restored on exit. Outside the main thread, where Python cannot
    install a handler, the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _resend_dropped_interrupts(previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)
