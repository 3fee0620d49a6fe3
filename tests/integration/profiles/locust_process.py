"""Run Locust as a subprocess for profile tests and read what its shape did from its log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
IDLE_USER = Path(__file__).resolve().parent / "idle_user.py"
LOCUST = str(Path(sys.executable).parent / "locust")
_UPDATE = re.compile(r"Shape test updating to (\d+) users")
_STAMP = r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\].*"


@dataclass(frozen=True)
class LocustRun:
    returncode: int
    output: str
    elapsed_s: float

    @property
    def user_counts(self) -> list[int]:
        """The user count of every tick that changed it, in order (Locust's own log line)."""
        return [int(n) for n in _UPDATE.findall(self.output)]

    @property
    def shape_run_s(self) -> float:
        """Seconds from "Shape test starting" to "Shape test stopping" by Locust's log clock."""
        start = re.search(_STAMP + "Shape test starting", self.output, re.MULTILINE)
        stop = re.search(_STAMP + "Shape test stopping", self.output, re.MULTILINE)
        assert start and stop, self.output[-2000:]
        fmt = "%Y-%m-%d %H:%M:%S,%f"
        delta = datetime.strptime(stop[1], fmt) - datetime.strptime(start[1], fmt)
        return delta.total_seconds()


def start_locust(
    locustfiles: Sequence[Path | str], args: Sequence[str], env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], float]:
    cmd = [LOCUST, "-f", ",".join(str(f) for f in locustfiles), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return proc, time.monotonic()


def finish(proc: subprocess.Popen[str], started: float, timeout_s: float) -> LocustRun:
    """Wait for Locust to exit by itself; kill it and fail the caller's check otherwise."""
    try:
        output, _ = proc.communicate(timeout=max(timeout_s - (time.monotonic() - started), 0.1))
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate(timeout=10)
        return LocustRun(returncode=-9, output=output, elapsed_s=time.monotonic() - started)
    return LocustRun(proc.returncode, output, time.monotonic() - started)
