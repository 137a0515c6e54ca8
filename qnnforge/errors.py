"""Turn the errors a user can cause into one clear line and an exit status, not a traceback.

Only :class:`~qnnforge.sw.errors.QnnforgeError` is the user's: a
:class:`~qnnforge.sw.errors.VerificationError` prints ``qnnforge: verification failed: ...`` and
exits 1, any other one prints ``qnnforge: error: ...`` and exits 2. An interrupt (Ctrl-C, or
SIGTERM turned into :class:`~qnnforge.sw.files.Terminated`) prints ``qnnforge: interrupted`` and
exits 130 or 143, as a shell reports a process killed by SIGINT or SIGTERM; by then every
``finally`` block has run, so no temporary file or lock is left. Every other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .sw.errors import QnnforgeError, VerificationError
from .sw.files import Terminated

__all__ = ["UsageError", "usage_errors", "Outcome", "report_errors"]


class UsageError(QnnforgeError, ValueError):
    """A value given on the command line (an option, a file) is invalid; the message says which."""


@contextmanager
def usage_errors() -> Iterator[None]:
    """Re-raise a ``ValueError`` of the enclosed calls as a :class:`UsageError`.

    Wrap only a library call whose every ``ValueError`` is about a value the user typed (parsing
    ``--fold`` specs, fitting them to the network), never a whole command: a ``ValueError`` from
    anywhere else is a bug and must keep its traceback.
    """
    try:
        yield
    except QnnforgeError:
        raise
    except ValueError as error:
        raise UsageError(str(error)) from error


@dataclass
class Outcome:
    """The exit status of a command, set by the command or by :func:`report_errors`."""

    status: int = 0


@contextmanager
def report_errors() -> Iterator[Outcome]:
    """Yield an :class:`Outcome`; print a user's error or an interrupt as one line on stderr and
    set its status."""
    outcome = Outcome()
    try:
        yield outcome
    except KeyboardInterrupt:
        print("qnnforge: interrupted", file=sys.stderr)
        outcome.status = 130
    except Terminated:
        print("qnnforge: interrupted (SIGTERM)", file=sys.stderr)
        outcome.status = 143
    except VerificationError as error:
        print(f"qnnforge: verification failed: {error}", file=sys.stderr)
        outcome.status = 1
    except QnnforgeError as error:
        print(f"qnnforge: error: {error}", file=sys.stderr)
        outcome.status = 2
