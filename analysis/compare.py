"""Compare two runs' summaries: a regression verdict with explicit thresholds.

Compared: the maximum sustainable load; for the whole run and each stage present in both
(matched by label), latency p95/p99 of TTFT, TPOT, ITL and E2E, achieved and goodput req/s,
and the error fraction. A row regresses when the new value is worse than the base by more
than its threshold (``Thresholds``); latencies must also move by more than ``latency_min_ms``
so that sub-millisecond jitter is not called a regression. Verdict: "invalid" if either run
is invalid, else "regression" if any row regressed, else "improvement" if any row improved
by more than its threshold, else "no_change".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

from analysis.summary import SummaryV1

LATENCY_KEYS: Final = tuple(
    f"{m}_p{q}_ms" for m in ("ttft", "tpot", "itl", "e2e") for q in (95, 99)
)
Direction = Literal["lower_is_better", "higher_is_better"]
CompareVerdict = Literal["regression", "improvement", "no_change", "invalid"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    latency_increase_frac: float = 0.10
    latency_min_ms: float = 1.0
    throughput_decrease_frac: float = 0.05
    error_increase_abs_frac: float = 0.005


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    scope: str
    metric: str
    base: float | None
    new: float | None
    change_frac: float | None
    regression: bool
    improvement: bool


@dataclass(frozen=True)
class Comparison:
    verdict: CompareVerdict
    rows: tuple[ComparisonRow, ...]
    reasons: tuple[str, ...]

    @property
    def regressions(self) -> tuple[ComparisonRow, ...]:
        return tuple(r for r in self.rows if r.regression)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _row(
    scope: str, metric: str, base: Any, new: Any, *, kind: str, th: Thresholds
) -> ComparisonRow | None:
    b, n = _num(base), _num(new)
    if b is None or n is None:
        return None
    change = (n - b) / b if b != 0 else None
    worse = better = False
    if kind == "latency":
        delta = n - b
        if abs(delta) > th.latency_min_ms and change is not None:
            worse = change > th.latency_increase_frac
            better = change < -th.latency_increase_frac
    elif kind == "throughput":
        if change is not None:
            worse = change < -th.throughput_decrease_frac
            better = change > th.throughput_decrease_frac
        else:
            better = n > 0
    else:  # error fraction: absolute percentage points
        worse = n - b > th.error_increase_abs_frac
        better = b - n > th.error_increase_abs_frac
    return ComparisonRow(scope, metric, b, n, change, worse, better)


def _scope_rows(
    scope: str, base: dict[str, Any], new: dict[str, Any], th: Thresholds
) -> list[ComparisonRow]:
    specs = [(k, "latency") for k in LATENCY_KEYS]
    specs += [("achieved_rps", "throughput"), ("goodput_rps", "throughput")]
    specs += [("error_frac", "error")]
    rows = [_row(scope, key, base.get(key), new.get(key), kind=kind, th=th) for key, kind in specs]
    return [r for r in rows if r is not None]


def compare_summaries(
    base: SummaryV1, new: SummaryV1, thresholds: Thresholds | None = None
) -> Comparison:
    th = thresholds or Thresholds()
    reasons = [f"base: {r}" for r in base.validity.reasons]
    reasons += [f"new: {r}" for r in new.validity.reasons]
    rows: list[ComparisonRow] = []
    if base.saturation is not None and new.saturation is not None:
        row = _row(
            "saturation", "max_sustainable_rps", base.saturation.max_sustainable_rps,
            new.saturation.max_sustainable_rps, kind="throughput", th=th,
        )  # fmt: skip
        if row is not None:
            rows.append(row)
    rows += _scope_rows("run", base.overall, new.overall, th)
    new_stages = {s.get("label"): s for s in new.stages}
    for stage in base.stages:
        other = new_stages.get(stage.get("label"))
        if other is not None:
            rows += _scope_rows(f"stage {stage.get('label')}", stage, other, th)
    verdict: CompareVerdict
    if base.verdict == "invalid" or new.verdict == "invalid":
        verdict = "invalid"
    elif any(r.regression for r in rows):
        verdict = "regression"
    elif any(r.improvement for r in rows):
        verdict = "improvement"
    else:
        verdict = "no_change"
    return Comparison(verdict, tuple(rows), tuple(reasons))
