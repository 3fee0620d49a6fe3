"""The online saturation search converges to a known boundary on a synthetic system."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.search_controller import (
    ProbeSpan,
    SearchController,
    SearchObservation,
    SearchParams,
    StatsSnapshot,
    observe_window,
    quantile_from_counts,
    realized_profile,
    window_counts,
)


def _system(boundary_rps: float) -> Callable[[float], SearchObservation]:
    """A synthetic server: fine up to ``boundary_rps``, then TTFT explodes and throughput caps."""

    def observe(rate: float) -> SearchObservation:
        if rate <= boundary_rps:
            return SearchObservation(rate, 80.0, 20.0, 0.0, 1.0)
        return SearchObservation(rate, 9000.0, 20.0, 0.0, boundary_rps / rate)

    return observe


def _run(controller: SearchController, observe: Callable[[float], SearchObservation]) -> int:
    probes = 0
    while not controller.done:
        controller.next_rate(observe(controller.rate))
        probes += 1
        assert probes <= controller.params.max_probes
    return probes


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.5, max_value=900),
    st.floats(min_value=0.2, max_value=5),
    st.floats(min_value=1.2, max_value=4),
    st.floats(min_value=0.01, max_value=0.3),
)
def test_converges_to_the_boundary_within_the_tolerance(
    boundary_rps: float, start_rate: float, growth: float, tolerance: float
) -> None:
    params = SearchParams(
        start_rate=start_rate,
        max_rate=1000,
        min_rate=0.1,
        growth=growth,
        rel_tolerance=tolerance,
        max_probes=200,
    )
    controller = SearchController(params)
    _run(controller, _system(boundary_rps))
    found = controller.boundary_rate
    assert found is not None
    assert found <= boundary_rps  # never holds at a failing rate
    assert found >= boundary_rps * (1 - tolerance) - 1e-9
    assert controller.rate == found
    assert controller.next_rate(SearchObservation(found, 0, 0, 0, 1)) == found  # holding


def test_a_system_that_always_passes_holds_at_max_rate() -> None:
    controller = SearchController(SearchParams(start_rate=1, max_rate=100))
    probes = _run(controller, _system(1e9))
    assert controller.boundary_rate == 100
    assert probes == 8  # 1, 2, 4, ..., 64, 100


def test_a_system_that_always_fails_gives_up_at_min_rate() -> None:
    controller = SearchController(SearchParams(start_rate=1, min_rate=0.1))
    _run(controller, _system(0.0))
    assert controller.boundary_rate == 0.0
    assert all(not ok for _, ok in controller.history)
    assert min(obs.rate for obs, _ in controller.history) >= 0.1


def test_each_slo_clause_can_fail_a_probe() -> None:
    params = SearchParams(
        ttft_p95_ms=100, tpot_p95_ms=50, max_error_frac=0.01, min_achieved_frac=0.95
    )
    bad = [
        SearchObservation(1, 101, 10, 0, 1),
        SearchObservation(1, 10, 51, 0, 1),
        SearchObservation(1, 10, 10, 0.02, 1),
        SearchObservation(1, 10, 10, 0, 0.9),
        SearchObservation(1, None, 10, 0, 1),
    ]
    for obs in bad:
        controller = SearchController(params)
        controller.next_rate(obs)
        assert controller.history == [(obs, False)]
    unchecked = SearchController(params.model_copy(update={"ttft_p95_ms": None}))
    unchecked.next_rate(SearchObservation(1, None, 10, 0, 1))
    assert unchecked.history[0][1] is True


def test_max_probes_stops_the_search_at_the_best_passing_rate() -> None:
    controller = SearchController(SearchParams(start_rate=1, max_rate=1000, max_probes=3))
    _run(controller, _system(500))
    assert controller.boundary_rate == 4  # 1, 2, 4 passed; out of probes


def test_realized_profile_places_the_probes_on_the_run_timeline() -> None:
    params = SearchParams(time_scale=10)
    profile = realized_profile(
        params,
        [ProbeSpan("probe-01", 1, 3), ProbeSpan("probe-02", 2, 4), ProbeSpan("hold", 1.5, 6)],
    )
    assert profile.duration_s == pytest.approx(13)
    assert [b.name for b in profile.boundaries()] == ["probe-01", "probe-02", "hold"]
    assert profile.target_at(5) == 2 and profile.target_at(12) == 1.5


def test_histogram_window_quantiles() -> None:
    before = {10: 5, 20: 5}
    after = {10: 6, 20: 5, 30: 10, 400: 1}
    window = window_counts(after, before)
    assert window == {10: 1, 30: 10, 400: 1}
    assert quantile_from_counts(window, 0.5) == 30
    assert quantile_from_counts(window, 0.95) == 400
    assert quantile_from_counts({}, 0.95) is None
    # nearest rank, as numpy's "inverted_cdf"
    values = [10] * 1 + [30] * 10 + [400]
    assert quantile_from_counts(window, 0.9) == float(
        np.quantile(values, 0.9, method="inverted_cdf")
    )


def test_a_window_between_two_snapshots_is_one_observation() -> None:
    before = StatsSnapshot(10.0, {50: 100}, {10: 100}, requests=100, failures=0)
    after = StatsSnapshot(20.0, {50: 150, 900: 10}, {10: 160}, requests=180, failures=4)
    obs = observe_window(before, after, rate=10.0, mode="rate")
    assert obs == SearchObservation(10.0, 900.0, 10.0, 4 / 80, 0.8)
    closed = observe_window(before, after, rate=10.0, mode="users")
    assert closed.achieved_frac == 1.0
    empty = observe_window(after, after, rate=10.0, mode="rate")
    assert (empty.ttft_p95_ms, empty.error_frac, empty.achieved_frac) == (None, 0.0, 0.0)
