"""Replicas behind the capacity: ready replicas from the server metrics, else the stub config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.io import load_run
from analysis.pipeline import AnalysisOptions, RunAnalysis, analyse
from analysis.replicas import at_capacity, per_point_ready, ready_replicas
from analysis.summary import build_summary


def _ready_metrics(t_s: list[float], ready: list[float]) -> pd.DataFrame:
    rows = []
    for t, n in zip(t_s, ready, strict=True):
        for state, value in (("ready", n), ("starting", 1.0), ("failed", 0.0)):
            rows.append((t, f'surgebench:replicas{{model_name="m",state="{state}"}}', value))
    frame = pd.DataFrame(rows, columns=["t_s", "name", "value"])
    frame["metric"] = frame["name"].str.split("{", n=1).str[0]
    return frame[["t_s", "name", "metric", "value"]]


def test_ready_replicas_are_averaged_per_load_point_and_taken_at_the_crossing() -> None:
    metrics = _ready_metrics([0.5, 1.5, 2.5, 3.5, 10.5, 11.5], [1, 1, 2, 2, 3, 3])
    ready = ready_replicas(metrics)
    assert ready is not None and ready.tolist() == [1, 1, 2, 2, 3, 3]  # "starting" not counted
    spans = [((0.0, 2.0),), ((2.0, 4.0),), ((10.0, 11.0), (11.0, 12.0)), ((20.0, 30.0),)]
    per_point = per_point_ready(ready, spans)
    assert per_point[:3].tolist() == [1.0, 2.0, 3.0] and np.isnan(per_point[3])
    x = np.array([10.0, 20.0, 30.0, 40.0])
    achieved = np.array([10.0, 19.0, 25.0, 26.0])
    # the SLO broke between the 2-replica and 3-replica points: interpolated in x
    assert at_capacity(x, achieved, per_point, crossing_x=25.0) == pytest.approx(2.5)
    # SLO never broken: the replicas where the most was achieved (among known points)
    assert at_capacity(x, achieved, per_point, crossing_x=None) == 3.0
    assert ready_replicas(_ready_metrics([], [])) is None


def _capacity(analysis: RunAnalysis) -> tuple[float, list[str]]:
    summary = build_summary(analysis)
    assert summary.capacity is not None and summary.saturation is not None
    return summary.capacity.per_replica_rps, summary.capacity.caveats


def test_per_replica_capacity_uses_ready_replicas_then_stub_config(
    mm1_run_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(mm1_run_dir, run_dir)
    options = AnalysisOptions(n_boot=0)
    total = analyse(load_run(run_dir), options).saturation
    assert total is not None
    x_total = total.max_sustainable.estimate

    per_replica, caveats = _capacity(analyse(load_run(run_dir), options))
    assert per_replica == pytest.approx(x_total) and "assumed 1 replica" in caveats[-1]

    (run_dir / "stub_config.json").write_text(json.dumps({"replicas": 4, "engine": {}}))
    per_replica, caveats = _capacity(analyse(load_run(run_dir), options))
    assert per_replica == pytest.approx(x_total / 4) and "stub_config.json" in caveats[-1]

    # an autoscaler that runs 2 replicas throughout, whatever the config started with
    lines = [
        json.dumps({"t_s": t + 0.5, "samples": {
            'surgebench:replicas{model_name="m",state="ready"}': 2.0,
            'surgebench:replicas{model_name="m",state="starting"}': 1.0,
        }})
        for t in range(0, 320)
    ]  # fmt: skip
    (run_dir / "server_metrics.jsonl").write_text("\n".join(lines) + "\n")
    per_replica, caveats = _capacity(analyse(load_run(run_dir), options))
    assert per_replica == pytest.approx(x_total / 2) and "2.00 ready replicas" in caveats[-1]

    given = analyse(load_run(run_dir), AnalysisOptions(n_boot=0, replicas_in_run=5))
    per_replica, caveats = _capacity(given)
    assert per_replica == pytest.approx(x_total / 5) and "(given)" in caveats[-1]
