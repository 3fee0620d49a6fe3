"""Exit codes of ``surgebench`` commands and the error that maps to the usage code.

``run``: 0 every SLO met, 1 an SLO breached, 2 the run is invalid (the load generator was
the bottleneck, or too few samples to judge), 3 usage or configuration error.
``compare`` reuses 1 for "regression". Any command exits 3 on a bad option.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SLO_BREACHED = 1
    RUN_INVALID = 2
    USAGE = 3


class UsageError(ValueError):
    """A bad option or configuration; the message names the value and the allowed ones."""


class MissingPartError(RuntimeError):
    """A part of the suite this command needs is not installed or not built yet."""
