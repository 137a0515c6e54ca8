"""Turn the errors a user can cause into one clear line and exit status 2, not a traceback."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Outcome:
    status: int = 0


@contextmanager
def report_errors():
    """Yield an :class:`Outcome`; map expected failures to a message on stderr and status 2."""
    from .sw.artifact import ArtifactError
    from .hw.tools.toolchain import ToolMissingError

    outcome = Outcome()
    try:
        yield outcome
    except (ArtifactError, ToolMissingError, ValueError, TypeError, FileNotFoundError) as error:
        print(f"qnnforge: error: {error}", file=sys.stderr)
        outcome.status = 2
    except AssertionError as error:  # verification failures (SimulationFailed)
        print(f"qnnforge: verification failed: {error}", file=sys.stderr)
        outcome.status = 1
