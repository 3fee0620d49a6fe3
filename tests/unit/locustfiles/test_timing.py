"""Latency formulas from chunk timestamps."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locustfiles.records import RequestRecord
from locustfiles.timing import (
    RunClock,
    e2e_from_intended_s,
    e2e_s,
    inter_token_latencies_s,
    rounded_inter_token_latencies_s,
    time_to_first_chunk_s,
    tokens_per_chunk,
    tpot_s,
    ttft_from_intended_s,
    ttft_s,
)


def _record(**overrides: object) -> RequestRecord:
    values: dict[str, object] = {
        "request_id": "local-0",
        "process_id": "local",
        "user_class": "ChatUser",
        "endpoint": "chat",
        "stage": None,
        "tier": None,
        "t_intended_s": 9.5,
        "t_sent_s": 10.0,
        "t_first_chunk_s": 10.15,
        "t_first_token_s": 10.2,
        "t_last_token_s": 10.8,
        "t_done_s": 10.81,
        "prompt_tokens": 100,
        "output_tokens": 31,
        "n_chunks": 31,
        "itl_s": None,
        "status": 200,
        "error_kind": None,
        "error": None,
        "retries": 0,
    }
    values.update(overrides)
    return RequestRecord.from_dict(values)


def test_latency_formulas() -> None:
    record = _record()
    assert ttft_s(record) == pytest.approx(0.2)
    assert ttft_from_intended_s(record) == pytest.approx(0.7)
    assert time_to_first_chunk_s(record) == pytest.approx(0.15)
    assert tpot_s(record) == pytest.approx(0.6 / 30)
    assert e2e_s(record) == pytest.approx(0.81)
    assert e2e_from_intended_s(record) == pytest.approx(1.31)


def test_undefined_metrics_are_none() -> None:
    record = _record(
        t_intended_s=None, t_first_token_s=None, t_last_token_s=None, t_first_chunk_s=None
    )
    assert ttft_s(record) is None
    assert ttft_from_intended_s(record) is None
    assert time_to_first_chunk_s(record) is None
    assert tpot_s(record) is None
    assert e2e_from_intended_s(record) is None
    assert tpot_s(_record(output_tokens=1)) is None


def test_one_token_per_chunk_unless_usage_says_more() -> None:
    assert tokens_per_chunk([3, 5, 1], None) == [1, 1, 1]
    assert tokens_per_chunk([3, 5, 1], 3) == [1, 1, 1]
    assert tokens_per_chunk([], 10) == []


@given(st.lists(st.integers(0, 50), min_size=1, max_size=30), st.integers(0, 500))
def test_token_shares_sum_to_the_reported_total(chars: list[int], total: int) -> None:
    shares = tokens_per_chunk(chars, total)
    assert all(s >= 1 for s in shares)
    assert sum(shares) == max(total, len(chars))


def test_itl_is_divided_by_the_tokens_of_the_later_chunk() -> None:
    itl = inter_token_latencies_s([1.0, 1.02, 1.1], [1, 1, 4])
    assert itl == pytest.approx([0.02, 0.02])


@given(
    st.floats(0.0, 1e6),
    st.lists(st.floats(0.0, 10.0), min_size=1, max_size=40),
    st.data(),
)
def test_rounded_itl_is_round_to_the_microsecond(
    start: float, gaps: list[float], data: st.DataObject
) -> None:
    times = [start]
    for gap in gaps:
        times.append(times[-1] + gap)
    tokens = data.draw(
        st.one_of(
            st.just([1] * len(times)),
            st.lists(st.integers(1, 5), min_size=len(times), max_size=len(times)),
        )
    )
    exact = inter_token_latencies_s(times, tokens)
    rounded = rounded_inter_token_latencies_s(times, tokens)
    assert len(rounded) == len(exact)
    for got, want in zip(rounded, exact, strict=True):
        # The same as round(want, 6) except at exact ties, which round up here.
        assert got == round(want, 6) or abs(got - want) <= 0.5e-6 + 1e-12
        assert got * 1e6 == pytest.approx(round(got * 1e6), abs=1e-6)
        assert len(repr(got).split(".")[-1]) <= 6 or "e" in repr(got)


def test_run_clock_maps_perf_counter_onto_t0() -> None:
    t0 = time.time() - 5.0
    clock = RunClock.starting_at(t0)
    assert clock.now_s() == pytest.approx(5.0, abs=0.05)
    assert clock.to_run_s(clock.perf_at_t0 + 2.5) == pytest.approx(2.5)
