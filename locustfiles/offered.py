"""``offered.csv``: the offered load once a second, written by the master (or the only) process.

Columns: ``t_s`` (seconds since t0, 3 decimals), ``stage`` (profile stage name, empty without
a profile), ``target_users`` (closed loop: the profile's target, else Locust's target user
count; empty in open loop), ``target_rps`` (open loop: the total arrival rate over all
processes; empty in closed loop), ``actual_users`` (users Locust is running).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

OFFERED_NAME = "offered.csv"
COLUMNS = ("t_s", "stage", "target_users", "target_rps", "actual_users")


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if value != int(value) else str(int(value))


class OfferedWriter:
    """Appends one row per call and flushes it (a crash keeps every completed second)."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / OFFERED_NAME
        fresh = not path.exists() or path.stat().st_size == 0
        self._fh: IO[str] | None = path.open("a", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh)
        if fresh:
            self._csv.writerow(COLUMNS)
            self._fh.flush()

    def row(
        self,
        *,
        t_s: float,
        stage: str | None,
        target_users: float | None,
        target_rps: float | None,
        actual_users: int,
    ) -> None:
        if self._fh is None:
            return
        self._csv.writerow(
            [f"{t_s:.3f}", stage or "", _cell(target_users), _cell(target_rps), actual_users]
        )
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
