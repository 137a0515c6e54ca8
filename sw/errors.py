"""The one base class of every error a user can cause (bad files, bad options, missing tools).

The command line turns exactly these into ``qnnforge: error: ...`` lines; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["QnnforgeError", "VerificationError"]


class QnnforgeError(Exception):
    """An error caused by the user's input or environment, with a message that says what to fix."""


class VerificationError(QnnforgeError):
    """The hardware disagreed with the integer reference (or did not run to completion)."""
