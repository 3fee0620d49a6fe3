"""Builds a run's capacity report with ``python -m analysis report RUN_DIR`` in a subprocess.

Why a subprocess: the web UI lives in a gevent-patched process; pandas, scipy and plotly
work there is a risk (blocking C calls stall every greenlet, including the load itself) and
the architecture keeps analysis out of Locust processes. The child gets the parent's
environment minus the variable that holds the target's API key (analysis never needs it).
Writes nothing itself; analysis writes ``RUN_DIR/report.html`` and ``RUN_DIR/summary.json``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from locustfiles.webui.rundir import MANIFEST_NAME, REPORT_NAME

log = logging.getLogger(__name__)

_STDERR_TAIL_CHARS: Final = 4000


@dataclass(frozen=True, slots=True)
class ReportBuild:
    path: Path | None
    """``report.html`` when it exists after the build, else None."""
    detail: str
    """Why there is no report (stderr tail), or how it was made."""


def is_current(run_dir: Path) -> bool:
    """A report exists and is newer than the manifest (finalised at stop)."""
    report, manifest = run_dir / REPORT_NAME, run_dir / MANIFEST_NAME
    try:
        return report.stat().st_mtime >= manifest.stat().st_mtime
    except OSError:
        return False


def build_report(
    run_dir: Path, *, timeout_s: float, environ: Mapping[str, str], secret_env: str | None
) -> ReportBuild:
    cmd = [sys.executable, "-m", "analysis", "report", str(run_dir)]
    env = {k: v for k, v in environ.items() if not secret_env or k != secret_env}
    log.info("building the capacity report: %s", " ".join(cmd))
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return ReportBuild(None, f"`{' '.join(cmd)}` did not finish within {timeout_s:g} s")
    except OSError as exc:
        return ReportBuild(None, f"could not run `{' '.join(cmd)}`: {exc}")
    report = run_dir / REPORT_NAME
    # analysis may exit non-zero to signal a breached SLO or an invalid run and still write
    # the report; what matters here is whether the file is there and fresh.
    if is_current(run_dir):
        return ReportBuild(report, f"built by `{' '.join(cmd)}` (exit {done.returncode})")
    tail = (done.stderr or done.stdout or "")[-_STDERR_TAIL_CHARS:]
    return ReportBuild(None, f"`{' '.join(cmd)}` exited {done.returncode}:\n{tail}")


def current_environ() -> dict[str, str]:
    """The process environment (read here, at the edge, and passed down)."""
    return dict(os.environ)
