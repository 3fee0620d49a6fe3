"""``surgebench compare BASE NEW``: analysis's regression verdict, as an exit code.

The comparison itself is analysis's (``python -m analysis compare``); its report is printed
as is. Exit codes are analysis's: 0 no regression (or an improvement), 1 regression,
2 either run invalid, 3 the comparison could not be made.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from surgebench.exit_code import ExitCode, UsageError
from surgebench.reporting import call_analysis, failure_text


def compare_runs(base: Path, new: Path, extra: Sequence[str]) -> int:
    call = call_analysis("compare", [str(base), str(new), *extra])
    sys.stdout.write(call.stdout)
    if call.returncode == 0:
        return int(ExitCode.OK)
    if call.returncode in (ExitCode.SLO_BREACHED, ExitCode.RUN_INVALID):
        sys.stderr.write(call.stderr)
        return call.returncode
    raise UsageError(f"analysis compare failed (exit {call.returncode}):\n{failure_text(call)}")
