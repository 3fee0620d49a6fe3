"""Surge analysis on a simulated 4x step surge against a shedding two-server queue."""

from __future__ import annotations

from pathlib import Path

from analysis.io import load_run
from analysis.pipeline import AnalysisOptions, analyse


def test_surge_violation_recovery_and_shedding(surge_run_dir: Path) -> None:
    analysis = analyse(load_run(surge_run_dir), AnalysisOptions(n_boot=0, recover_window_s=10))
    kinds = [(s.kind, s.t_onset_s) for s in analysis.surges]
    assert kinds == [("surge", 40.0), ("kill_replica", 100.0)]
    surge = analysis.surges[0]
    # 120 req/s against 100 req/s of service: a queue builds at once, then sheds at 40 waiting
    assert surge.onset_to_violation_s is not None and surge.onset_to_violation_s <= 10.0
    assert surge.shed > 0 and surge.failed == 0
    assert 10.0 <= surge.violation_s <= 50.0
    assert surge.recovered and surge.time_to_recover_s is not None
    assert surge.peak_in_flight > 20 * surge.baseline_in_flight
    assert surge.drain_s is not None and surge.drain_s < 30.0
    assert surge.burn_rate > 1.0
    assert analysis.limiter is not None and analysis.limiter.name == "queue"
