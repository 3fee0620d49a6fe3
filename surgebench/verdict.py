"""Read ``summary.json`` (written by analysis) into the verdict the CLI and CI outputs show.

The summary is analysis's contract (docs/analysis.md); this module only reads it, tolerating
fields it does not know, and derives the exit code: invalid run -> 2, breached SLO -> 1,
otherwise 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surgebench.exit_code import ExitCode, UsageError
from surgebench.options import ERROR_BUDGET_KEY

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True, slots=True)
class SloResult:
    """One SLO target: ``key`` like ``ttft_p95_ms`` (ms) or ``error_max_frac`` (a fraction).

    ``measured`` is the worst stage's value; ``met`` is None when no stage could be judged.
    """

    key: str
    threshold: float
    measured: float | None
    worst_stage: str | None
    met: bool | None

    @property
    def unit(self) -> str:
        return "" if self.key == ERROR_BUDGET_KEY else "ms"

    def format(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.key == ERROR_BUDGET_KEY:
            return f"{value:.2%}"
        return f"{value:,.1f} ms"


@dataclass(frozen=True, slots=True)
class RunVerdict:
    run_id: str
    verdict: str  # analysis's own word ("pass", "fail", "invalid", ...)
    valid: bool
    invalid_reasons: tuple[str, ...]
    slo_results: tuple[SloResult, ...]
    capacity: Mapping[str, Any]
    saturation: Mapping[str, Any]
    surges: tuple[Mapping[str, Any], ...]
    raw: Mapping[str, Any]

    @property
    def exit_code(self) -> ExitCode:
        if not self.valid:
            return ExitCode.RUN_INVALID
        if any(result.met is False for result in self.slo_results):
            return ExitCode.SLO_BREACHED
        if self.verdict.lower() in _BREACH_WORDS:
            return ExitCode.SLO_BREACHED
        return ExitCode.OK

    @property
    def headline(self) -> str:
        """``SLO MET`` / ``SLO BREACHED`` / ``RUN INVALID`` (what the exit code means)."""
        return {
            ExitCode.OK: "SLO MET",
            ExitCode.SLO_BREACHED: "SLO BREACHED",
            ExitCode.RUN_INVALID: "RUN INVALID",
        }.get(self.exit_code, self.verdict.upper())


# analysis/summary.py: verdict is "pass", "fail" or "invalid".
_BREACH_WORDS = frozenset({"fail"})
_INVALID_WORDS = frozenset({"invalid"})


def read_summary(run_dir: Path) -> RunVerdict:
    """Parse ``run_dir/summary.json``; a missing or unreadable file is a UsageError."""
    path = run_dir / SUMMARY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path} does not exist; run `surgebench report {run_dir}` first"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"{path} is not readable JSON: {err}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return verdict_from_summary(data)


def verdict_from_summary(data: Mapping[str, Any]) -> RunVerdict:
    validity = data.get("validity")
    valid, reasons = _validity(validity if isinstance(validity, Mapping) else {})
    verdict_word = str(data.get("verdict") or "")
    if verdict_word.lower() in _INVALID_WORDS:
        valid = False
    return RunVerdict(
        run_id=str(data.get("run_id") or ""),
        verdict=verdict_word,
        valid=valid,
        invalid_reasons=reasons,
        slo_results=tuple(_slo_results(data.get("slo"), data.get("stages"))),
        capacity=_mapping(data.get("capacity")),
        saturation=_mapping(data.get("saturation")),
        surges=tuple(s for s in data.get("surges") or () if isinstance(s, Mapping)),
        raw=data,
    )


def _validity(validity: Mapping[str, Any]) -> tuple[bool, tuple[str, ...]]:
    reasons = tuple(str(r) for r in validity.get("reasons") or ())
    valid = validity.get("valid")
    if valid is None:  # older summaries: only the client_limited flag
        valid = validity.get("client_limited") is not True
    if not valid and not reasons:
        reasons = ("marked invalid by analysis (no reason given)",)
    return bool(valid), reasons


def _slo_results(slo: Any, stages: Any) -> list[SloResult]:
    """One result per SLO key, judged like analysis judges stages (analysis/metrics.py
    ``slo_met``): a stage with finished requests breaches a target when its steady-state
    value exceeds the threshold; the verdict fails when any stage breaches any target.
    ``measured`` is the worst stage's value, so the table explains the verdict."""
    if not isinstance(slo, Mapping):
        return []
    judged = [
        st
        for st in (stages if isinstance(stages, list) else [])
        if isinstance(st, Mapping) and (_number(st, "n_finished") or 0) > 0
    ]
    results = []
    for key, threshold in slo.items():
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            continue
        column = "error_frac" if key == ERROR_BUDGET_KEY else key
        values = [(v, st.get("label")) for st in judged if (v := _number(st, column)) is not None]
        if not values:
            results.append(SloResult(key, float(threshold), None, None, None))
            continue
        worst, label = max(values, key=lambda item: item[0])
        results.append(
            SloResult(
                key=key,
                threshold=float(threshold),
                measured=worst,
                worst_stage=None if label is None else str(label),
                met=worst <= float(threshold),
            )
        )
    return results


def _number(entry: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
