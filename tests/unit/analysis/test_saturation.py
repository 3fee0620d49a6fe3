"""Saturation: the known capacity of a simulated queue is found; monotone in the SLO."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.io import RunData
from analysis.pipeline import AnalysisOptions, RunAnalysis, analyse
from analysis.saturation import find_crossing, find_knee
from analysis.slo import parse_slo
from tests.data.queue_sim import mm1_max_rate_rps
from tests.unit.analysis.conftest import E2E_P95_SLO_MS, SERVICE_RATE_RPS


def test_max_sustainable_load_of_mm1_within_10_percent(mm1_analysis: RunAnalysis) -> None:
    truth = mm1_max_rate_rps(SERVICE_RATE_RPS, E2E_P95_SLO_MS / 1000)  # 90.0 req/s
    sat = mm1_analysis.saturation
    assert sat is not None
    assert sat.crossing.status == "crossed"
    assert sat.crossing.target == "e2e_p95_ms"
    assert abs(sat.max_sustainable.estimate - truth) / truth < 0.10
    assert sat.max_sustainable.low <= sat.max_sustainable.estimate <= sat.max_sustainable.high
    assert sat.points.source == "stages" and len(sat.points.table) == 8


def test_knee_of_mm1_is_the_service_rate(mm1_analysis: RunAnalysis) -> None:
    sat = mm1_analysis.saturation
    assert sat is not None and sat.knee_rps is not None
    assert abs(sat.knee_rps - SERVICE_RATE_RPS) / SERVICE_RATE_RPS < 0.10


def test_looser_slo_finds_more_capacity_on_the_real_run(mm1_run: RunData) -> None:
    tight = analyse(mm1_run, AnalysisOptions(slo=parse_slo("e2e_p95_ms=150"), n_boot=0))
    loose = analyse(mm1_run, AnalysisOptions(slo=parse_slo("e2e_p95_ms=600"), n_boot=0))
    assert tight.saturation is not None and loose.saturation is not None
    # M/M/1 truth: 100 - ln 20 / 0.15 = 80.0 and 100 - ln 20 / 0.6 = 95.0 req/s
    assert abs(tight.saturation.max_sustainable.estimate - 80.0) / 80.0 < 0.10
    assert abs(loose.saturation.max_sustainable.estimate - 95.0) / 95.0 < 0.10


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(0.01, 100.0), min_size=2, max_size=10),
    achieved=st.lists(st.floats(0.0, 1000.0), min_size=10, max_size=10),
    threshold=st.floats(0.1, 50.0),
    factor=st.floats(1.0, 10.0),
)
def test_looser_slo_never_lowers_capacity(
    values: list[float], achieved: list[float], threshold: float, factor: float
) -> None:
    x = np.arange(1.0, len(values) + 1.0) * 10.0
    y = np.array(achieved[: len(values)])
    v = np.array(values)[:, None]
    tight = find_crossing(x, y, v / threshold, ("t",))
    loose = find_crossing(x, y, v / (threshold * factor), ("t",))
    assert loose.capacity_rps >= tight.capacity_rps - 1e-9
    if tight.x is not None and loose.x is not None:
        assert loose.x >= tight.x - 1e-9


def test_crossing_is_interpolated_between_points() -> None:
    x = np.array([10.0, 20.0, 30.0, 40.0])
    ratio = np.array([[0.2], [0.6], [1.4], [3.0]])
    crossing = find_crossing(x, x.copy(), ratio, ("t",))
    assert crossing.status == "crossed"
    assert crossing.x is not None and 20.0 < crossing.x < 30.0
    assert find_crossing(x, x, ratio * 0.1, ("t",)).status == "not_reached"
    assert find_crossing(x, x, ratio * 10, ("t",)).status == "below_lowest"


def test_knee_where_achieved_falls_below_offered() -> None:
    x = np.array([10.0, 20.0, 30.0, 40.0])
    knee_x, knee_rps = find_knee(x, np.array([10.0, 20.0, 25.0, 25.0]), open_loop=True)
    assert knee_x is not None and knee_rps is not None
    assert 20.0 < knee_x < 30.0 and 20.0 < knee_rps < 25.0
