"""The current run's directory, SLOs and latest offered-load row, as the live view needs them.

The run directory is decided by the load generator at test start (``--run-dir``, else
``results/<run_id>``) and kept, with the parsed options, in its per-process state
(``locustfiles.runtime``); the view only reads them. ``offered.csv`` (columns
``t_s,stage,target_users,target_rps,actual_users``, see ``locustfiles/offered.py``) gives
the offered load the profile asks for.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

OFFERED_NAME: Final = "offered.csv"
REPORT_NAME: Final = "report.html"
MANIFEST_NAME: Final = "manifest.json"
_TAIL_BYTES: Final = 4096
# The generator picks its t0 in its own test_start listener, next to ours.
_T0_SLACK_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_dir: Path
    slo_ms: Mapping[str, float]
    """``{"<metric>_p<q>_ms": limit}`` as the generator parsed it from the options."""


def run_info_of(environment: Any, *, since_s: float) -> RunInfo | None:
    """The run that started at ``since_s`` (epoch s): its directory and SLOs, once decided."""
    try:
        from locustfiles.runtime import state_of
    except ImportError:  # the view also works with users that are not surgebench's
        return None
    try:
        state = state_of(environment)
    except RuntimeError:
        return None
    context, options = state.context, state.options
    if context is None or context.t0_epoch_s < since_s - _T0_SLACK_S:
        return None
    slo_ms = dict(options.slo_ms) if options is not None else {}
    return RunInfo(run_dir=Path(context.run_dir), slo_ms=slo_ms)


def read_offered_tail(run_dir: Path) -> dict[str, Any]:
    """The last complete row of ``offered.csv``: ``stage``, ``target_users``, ``target_rps``.

    Empty cells are left out, so a caller can fall back to Locust's own figures.
    """
    path = run_dir / OFFERED_NAME
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return {}
    lines = tail.splitlines()
    # The writer flushes whole rows; a row without its newline yet is still being written.
    complete = lines if tail.endswith("\n") else lines[:-1]
    if not complete or complete[-1].startswith("t_s"):
        return {}
    cells = next(csv.reader([complete[-1]]), [])
    if len(cells) != 5:
        return {}
    row: dict[str, Any] = {}
    if cells[1]:
        row["stage"] = cells[1]
    for key, cell in (("target_users", cells[2]), ("target_rps", cells[3])):
        try:
            row[key] = float(cell)
        except ValueError:
            continue
    return row
