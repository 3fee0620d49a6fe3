"""Analysis of a run directory, run as ``python -m analysis`` in a child process.

A child process keeps this CLI fast to start (no pandas/plotly import for ``--help``) and
means a bug in analysis can never take the orchestrator (and the stub it must stop) down.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from surgebench.exit_code import MissingPartError
from surgebench.options import format_slo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalysisCall:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def analysis_argv(command: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "analysis", command, *args]


def call_analysis(command: str, args: Sequence[str], *, timeout_s: float = 600.0) -> AnalysisCall:
    """Run ``python -m analysis COMMAND ARGS``; MissingPartError when analysis has no CLI."""
    argv = analysis_argv(command, *args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0 and "No module named analysis.__main__" in done.stderr:
        raise MissingPartError("the analysis CLI (python -m analysis) is not available yet")
    return AnalysisCall(tuple(argv), done.returncode, done.stdout, done.stderr)


def build_report(
    run_dir: Path, slo: Mapping[str, float], extra: Sequence[str] = ()
) -> AnalysisCall:
    """(Re)build ``run_dir/report.html`` and ``run_dir/summary.json``."""
    args = [str(run_dir)]
    if slo:
        args += ["--slo", format_slo(dict(slo))]
    return call_analysis("report", [*args, *extra])


def failure_text(call: AnalysisCall, *, lines: int = 15) -> str:
    """The last lines analysis printed, for an error message."""
    text = (call.stderr or call.stdout).strip().splitlines()
    return "\n".join(text[-lines:])
