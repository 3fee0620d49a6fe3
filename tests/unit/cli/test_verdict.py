from __future__ import annotations

import json
from pathlib import Path

import pytest

from surgebench.exit_code import ExitCode, UsageError
from surgebench.verdict import read_summary, verdict_from_summary
from tests.unit.cli.summaries import stage, summary


def test_met_slo_exits_zero_and_reports_worst_stage() -> None:
    verdict = verdict_from_summary(summary())
    assert verdict.exit_code == ExitCode.OK
    ttft = next(r for r in verdict.slo_results if r.key == "ttft_p95_ms")
    assert ttft.measured == 310.0
    assert ttft.worst_stage == "steady"
    assert ttft.met is True


def test_breached_target_exits_one_and_names_the_stage() -> None:
    doc = summary(
        verdict="fail",
        stages=[stage("base", ttft_p95_ms=100.0), stage("surge", ttft_p95_ms=900.0, slo_met=False)],
    )
    verdict = verdict_from_summary(doc)
    assert verdict.exit_code == ExitCode.SLO_BREACHED
    ttft = next(r for r in verdict.slo_results if r.key == "ttft_p95_ms")
    assert (ttft.met, ttft.worst_stage, ttft.measured) == (False, "surge", 900.0)


def test_error_budget_is_judged_per_stage() -> None:
    doc = summary(verdict="fail", stages=[stage("surge", ttft_p95_ms=100.0, error_frac=0.2)])
    errors = next(r for r in verdict_from_summary(doc).slo_results if r.key == "error_max_frac")
    assert errors.met is False
    assert errors.format(errors.measured) == "20.00%"


def test_invalid_run_exits_two_even_when_targets_look_met() -> None:
    doc = summary(
        verdict="invalid",
        valid=False,
        client_limited=True,
        reasons=("load generator was the bottleneck (client-limited): 12 arrivals dropped",),
    )
    verdict = verdict_from_summary(doc)
    assert verdict.exit_code == ExitCode.RUN_INVALID
    assert "dropped" in verdict.invalid_reasons[0]


def test_stage_without_finished_requests_is_not_judged() -> None:
    doc = summary(stages=[stage("idle", n_finished=0, ttft_p95_ms=None, slo_met=None)])
    results = verdict_from_summary(doc).slo_results
    assert all(r.met is None and r.measured is None for r in results)
    assert verdict_from_summary(doc).exit_code == ExitCode.OK


def test_missing_summary_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"summary\.json"):
        read_summary(tmp_path)


def test_read_summary_round_trips_the_file(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(summary()), "utf-8")
    assert read_summary(tmp_path).run_id == "20260101T000000Z-steady"
