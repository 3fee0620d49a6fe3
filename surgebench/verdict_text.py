"""The concise verdict printed at the end of ``run`` and ``report`` (stdout)."""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO

from surgebench.ci_report import count_text
from surgebench.orchestrate import RunResult
from surgebench.verdict import RunVerdict


def print_run_result(result: RunResult, stream: TextIO | None = None) -> int:
    """Print the verdict; returns the exit code to use."""
    out = stream or sys.stdout
    if result.interrupted:
        print("interrupted: the analysis below covers what was recorded until Ctrl-C", file=out)
    if result.verdict is None:
        print(f"NO VERDICT (exit {int(result.exit_code)}): {result.message}", file=out)
        print(f"run directory: {result.run_dir}", file=out)
        return int(result.exit_code)
    for line in verdict_lines(result.verdict):
        print(line, file=out)
    report = result.run_dir / "report.html"
    if report.exists():
        print(f"report: {report}", file=out)
    if (result.run_dir / "junit.xml").exists():
        print(f"CI: {result.run_dir / 'ci-summary.md'}, {result.run_dir / 'junit.xml'}", file=out)
    return int(result.exit_code)


def verdict_lines(verdict: RunVerdict) -> list[str]:
    lines = [f"{verdict.headline} (exit {int(verdict.exit_code)}), run {verdict.run_id}"]
    for reason in verdict.invalid_reasons if not verdict.valid else ():
        lines.append(f"  invalid: {reason}")
    for result in verdict.slo_results:
        state = {True: "met", False: "BREACHED", None: "not measured"}[result.met]
        where = f" (worst stage: {result.worst_stage})" if result.worst_stage else ""
        lines.append(
            f"  {result.key:<16} {result.format(result.measured):>11} vs "
            f"{result.format(result.threshold)}  {state}{where}"
        )
    sat = verdict.saturation
    max_rps = _num(sat.get("max_sustainable_rps"))
    if max_rps is not None:
        low, high = _num(sat.get("ci_low_rps")), _num(sat.get("ci_high_rps"))
        ci = f" (95% CI {low:.2f}-{high:.2f})" if low is not None and high is not None else ""
        lines.append(f"  max sustainable load under the SLO: {max_rps:.2f} req/s{ci}")
    cap = verdict.capacity
    parts = [
        f"{label} {count_text(cap.get(key))}"
        for key, label in (
            ("replicas_normal", "normal peak"),
            ("replicas_surge", "surge"),
            ("replicas_n_plus_1", "surge + N+1"),
        )
        if cap.get(key) is not None
    ]
    if parts:
        lines.append("  replicas: " + ", ".join(parts))
    return lines


def _num(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
