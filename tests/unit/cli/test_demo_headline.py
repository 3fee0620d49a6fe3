from __future__ import annotations

from pathlib import Path

from surgebench.demo import headline
from surgebench.exit_code import ExitCode
from surgebench.orchestrate import RunResult
from surgebench.verdict import verdict_from_summary
from tests.unit.cli.summaries import capacity, summary


def _surge(kind: str, recover_s: float | None) -> dict[str, object]:
    return {
        "label": "failover", "kind": kind, "t_onset_s": 45.0, "t_horizon_end_s": 80.0,
        "onset_to_violation_s": 2.0, "violation_s": 20.0, "time_to_recover_s": recover_s,
        "recovered": recover_s is not None, "baseline_in_flight": 40.0, "peak_in_flight": 90.0,
        "drain_s": 8.0, "requests": 500, "failed": 30, "shed": 0, "dropped": 0, "abandoned": 0,
        "not_good": 120, "burn_rate": 12.0,
    }  # fmt: skip


def test_headline_has_the_four_answers(tmp_path: Path) -> None:
    doc = summary(capacity=capacity(), surges=[_surge("kill_replica", 23.4)])
    result = RunResult(ExitCode.OK, tmp_path, verdict_from_summary(doc), False, "")
    text = "\n".join(headline(result))
    assert "sustainable load per replica : 12.00 req/s" in text and "CI 11.00-13.00" in text
    assert "replicas for the surge, N+1  : 7 (7-8)" in text
    assert "time to recover              : 23 s after replica 0 failed" in text
    assert str((tmp_path / "report.html").resolve()) in text


def test_headline_says_when_there_was_no_recovery(tmp_path: Path) -> None:
    doc = summary(capacity=capacity(), surges=[_surge("kill_replica", None)])
    result = RunResult(ExitCode.SLO_BREACHED, tmp_path, verdict_from_summary(doc), False, "")
    assert any("not within the run" in line for line in headline(result))
