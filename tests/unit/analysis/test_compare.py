"""Regression verdict between two runs of the same sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.__main__ import main
from analysis.compare import compare_summaries
from analysis.io import load_run
from analysis.pipeline import AnalysisOptions, RunAnalysis, analyse
from analysis.summary import build_summary
from tests.data.queue_sim import simulate_fcfs
from tests.data.run_writer import write_run
from tests.unit.analysis.conftest import E2E_P95_SLO_MS, sweep_stages


@pytest.fixture(scope="module")
def slower_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same sweep against a server 15% slower (mu = 85 req/s)."""
    stages = sweep_stages()
    records = simulate_fcfs(stages, service_rate_rps=85.0, servers=1, rng=np.random.default_rng(8))
    directory = tmp_path_factory.mktemp("slow") / "run"
    return write_run(directory, records, stages, slo={"e2e_p95_ms": E2E_P95_SLO_MS})


def test_same_run_is_no_change(mm1_analysis: RunAnalysis) -> None:
    summary = build_summary(mm1_analysis)
    result = compare_summaries(summary, summary)
    assert result.verdict == "no_change"
    assert not result.regressions


def test_slower_server_is_a_regression(mm1_analysis: RunAnalysis, slower_run_dir: Path) -> None:
    base = build_summary(mm1_analysis)
    new = build_summary(analyse(load_run(slower_run_dir), AnalysisOptions(n_boot=0)))
    result = compare_summaries(base, new)
    assert result.verdict == "regression"
    metrics = {(r.scope, r.metric) for r in result.regressions}
    assert ("saturation", "max_sustainable_rps") in metrics
    reverse = compare_summaries(new, base)
    assert reverse.verdict == "improvement"


def test_compare_cli_exit_codes(mm1_run_dir: Path, slower_run_dir: Path) -> None:
    assert main(["compare", str(mm1_run_dir), str(mm1_run_dir)]) == 0
    assert main(["compare", str(mm1_run_dir), str(slower_run_dir)]) == 1
