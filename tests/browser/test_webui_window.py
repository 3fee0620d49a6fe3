"""The live view's pure parts: exact window statistics, worker batches, outcome classes.

``locustfiles.webui.window`` imports numpy only, so it is tested in-process.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.webui.samples import SortedSamples, TimedColumns
from locustfiles.webui.window import (
    OUTCOMES,
    LlmWindow,
    SampleBatch,
    classify_failure,
    outcome_code,
)

NOW_S = 1_000_000.0


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=300
    ),
    ages=st.data(),
)
def test_window_percentiles_equal_numpy_over_the_samples_inside_the_window(
    values: list[float], ages: st.DataObject
) -> None:
    window = LlmWindow(window_s=10.0, quantiles=(50, 95, 99))
    inside = []
    for value in values:
        age_s = ages.draw(st.floats(min_value=0.0, max_value=25.0))
        window.add("TTFT", NOW_S - age_s, value)
        if age_s < 10.0:
            inside.append(value)
    snap = window.snapshot(NOW_S)
    assert snap.window["TTFT"].n == len(inside)
    if inside:
        want = np.percentile(inside, [50, 95, 99])
        got = [snap.window["TTFT"].get(q) for q in (50.0, 95.0, 99.0)]
        assert got == pytest.approx(list(want), rel=1e-12)
    run_want = np.percentile(values, [50, 95, 99])
    assert [snap.run["TTFT"].get(q) for q in (50.0, 95.0, 99.0)] == pytest.approx(
        list(run_want), rel=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), max_size=50),
        min_size=1,
        max_size=8,
    ),
    qs=st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=5),
)
def test_sorted_samples_merged_batch_by_batch_give_numpy_percentiles(
    batches: list[list[float]], qs: list[float]
) -> None:
    samples = SortedSamples()
    seen: list[float] = []
    for batch in batches:
        for value in batch:
            samples.append(value)
        seen.extend(batch)
        found = samples.quantiles(qs)
        assert found.n == len(seen) == len(samples)
        if seen:
            want = np.percentile(seen, qs)
            got = [found.get(q) for q in qs]
            assert got == pytest.approx(list(want), rel=1e-12, abs=1e-6)


def test_timed_columns_select_by_time_and_prune_whole_chunks() -> None:
    rows = TimedColumns(width=2)
    for i in range(10):
        rows.append(float(i), i * 10.0, i * 100.0)
    assert rows.select(2.0, 5.0).tolist() == [[3, 4, 5], [30, 40, 50], [300, 400, 500]]
    for i in range(10, 20):
        rows.append(float(i), i * 10.0, i * 100.0)
    rows.prune(10.0)  # the first chunk (t 0..9) is entirely older: dropped
    assert rows.select(-1.0, 100.0)[0].tolist() == [float(i) for i in range(10, 20)]


def test_rates_tokens_and_outcome_shares_count_the_window_only() -> None:
    window = LlmWindow(window_s=10.0, quantiles=(50,))
    window.add("E2E", NOW_S - 30.0, 100.0, tokens=999)  # outside the window
    for i in range(40):
        window.add("E2E", NOW_S - 9.0 + i * 0.2, 100.0, tokens=10)
    window.add("E2E", NOW_S - 1.0, 5.0, outcome=outcome_code("shed"))
    window.add("E2E", NOW_S - 1.0, 5.0, outcome=outcome_code("error"))
    snap = window.snapshot(NOW_S)
    assert snap.completed_rps == pytest.approx(4.0)
    assert snap.attempted_rps == pytest.approx(4.2)
    assert snap.output_tps == pytest.approx(40.0)
    assert snap.outcome_frac["shed"] == pytest.approx(1 / 42)
    assert snap.outcome_frac["error"] == pytest.approx(1 / 42)
    assert snap.window["E2E"].n == 40  # failed requests have no latency sample
    assert snap.totals == {"ok": 41, "error": 1, "shed": 1, "dropped": 0, "output_tokens": 1399}


def test_rates_in_the_first_seconds_divide_by_the_time_since_the_run_started() -> None:
    window = LlmWindow(window_s=10.0, quantiles=(50,), origin_s=NOW_S - 2.0)
    for i in range(20):
        window.add("E2E", NOW_S - 1.9 + i * 0.09, 50.0, tokens=5)
    snap = window.snapshot(NOW_S)
    assert snap.completed_rps == pytest.approx(10.0)
    assert snap.output_tps == pytest.approx(50.0)


def test_window_ends_where_every_live_worker_has_reported() -> None:
    window = LlmWindow(window_s=10.0, quantiles=(50,))
    window.cover("worker-a", NOW_S - 1.0)
    window.cover("worker-b", NOW_S - 2.5)
    assert window.end_s(NOW_S) == NOW_S - 2.5
    window.cover("worker-gone", NOW_S - 60.0)  # silent for a minute: no longer waited for
    assert window.end_s(NOW_S) == NOW_S - 2.5


def test_a_shipped_batch_gives_the_same_statistics_as_direct_samples() -> None:
    rng = np.random.default_rng(7)
    direct = LlmWindow(window_s=10.0, quantiles=(50, 95))
    merged = LlmWindow(window_s=10.0, quantiles=(50, 95))
    batch = SampleBatch()
    for i in range(200):
        metric = ("TTFT", "TPOT", "E2E")[i % 3]
        t_s = NOW_S - 9.0 + i * 0.04
        value_ms = float(rng.lognormal(3.0, 0.5))
        tokens, outcome = (int(rng.integers(1, 50)), i % 7 == 0) if metric == "E2E" else (0, 0)
        direct.add(metric, t_s, value_ms, tokens, int(outcome))
        batch.add(metric, t_s, value_ms, tokens, int(outcome))
    wire = batch.drain(NOW_S)
    assert len(batch) == 0
    merged.add_batch("worker-1", wire)
    assert merged.snapshot(NOW_S) == direct.snapshot(NOW_S)


def test_unknown_metric_and_outcome_are_refused_with_the_known_ones() -> None:
    window = LlmWindow(window_s=10.0, quantiles=(50,))
    with pytest.raises(ValueError, match="known: TTFT, TPOT, E2E"):
        window.add("ITL", NOW_S, 1.0)
    with pytest.raises(ValueError, match="known: ok, error, shed, dropped"):
        outcome_code("lost")
    with pytest.raises(ValueError, match="window_s must be > 0"):
        LlmWindow(window_s=0.0, quantiles=(50,))


@pytest.mark.parametrize(
    ("text", "context", "outcome"),
    [
        ("dropped: in-flight cap 100 reached", None, "dropped"),
        ("status: HTTP 503: The engine is currently overloaded", None, "shed"),
        ("status: HTTP 429: rate_limit_exceeded", None, "shed"),
        ("status: HTTP 400: context too long", None, "error"),
        ("timeout: no first byte within 600 s", None, "error"),
        ("anything", {"error_kind": "status", "status": 529}, "shed"),
        ("HTTP 503 in a message", {"error_kind": "status", "status": 500}, "error"),
        ("anything", {"error_kind": "dropped"}, "dropped"),
    ],
)
def test_failed_requests_are_classed_as_error_shed_or_dropped(
    text: str, context: dict[str, object] | None, outcome: str
) -> None:
    assert OUTCOMES[classify_failure(text, context)] == outcome
