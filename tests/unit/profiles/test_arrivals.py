"""Arrival schedules: mean rates, burstiness, incremental use and seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profiles
from profiles.arrivals import ArrivalSchedule, intended_times
from profiles.base import ProfileError


def _tolerance(expected: float) -> float:
    return 5 * math.sqrt(expected)  # 5 sigma of a Poisson count


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(["poisson", "gamma", "constant"]),
    st.floats(min_value=5, max_value=500),
    st.integers(min_value=0, max_value=2**32),
    st.floats(min_value=0.3, max_value=3),
)
def test_mean_rate_matches_a_constant_rate(
    kind: str, rate_rps: float, seed: int, cv: float
) -> None:
    duration_s = 2000 / rate_rps  # about 2,000 arrivals
    times = intended_times(lambda _t: rate_rps, kind=kind, seed=seed, cv=cv, end_s=duration_s)  # type: ignore[arg-type]
    expected = rate_rps * duration_s
    assert abs(len(times) - expected) <= _tolerance(expected) * max(cv, 1)
    assert times == sorted(times) and all(0 <= t < duration_s for t in times)


@pytest.mark.parametrize("kind", ["poisson", "gamma", "constant"])
def test_non_homogeneous_rate_is_followed_per_stage(kind: str) -> None:
    profile = profiles.load(
        "flash", mode="rate", baseline=50, multiplier=4, baseline_s=20, spike_s=20, after_s=20
    )
    times = intended_times(profile.target_at, kind=kind, seed=11, cv=1.5, end_s=profile.duration_s)  # type: ignore[arg-type]
    for b in profile.boundaries():
        count = sum(b.t_start_s <= t < b.t_end_s for t in times)
        expected = b.target_end * (b.t_end_s - b.t_start_s)
        assert abs(count - expected) <= _tolerance(expected) * 1.5, b.name


def test_gamma_cv_sets_the_burstiness_of_gaps() -> None:
    for cv in (0.5, 1.0, 2.0):
        times = np.array(intended_times(lambda _t: 100.0, kind="gamma", seed=3, cv=cv, end_s=400))
        gaps = np.diff(times)
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)
    constant = np.diff(intended_times(lambda _t: 10.0, kind="constant", end_s=10))
    assert constant == pytest.approx(np.full(len(constant), 0.1))


def test_thinning_is_exact_for_a_continuous_rate() -> None:
    def rate(t: float) -> float:
        return 100 + 100 * math.sin(t / 5)

    times = intended_times(rate, seed=5, end_s=200, rate_max_rps=200)
    expected = sum(rate(t + 0.5) for t in range(200))
    assert abs(len(times) - expected) <= _tolerance(expected)
    with pytest.raises(ProfileError, match="exceeds rate_max_rps"):
        intended_times(rate, seed=5, end_s=200, rate_max_rps=150)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(min_value=0.001, max_value=3), min_size=1, max_size=40), st.integers(0, 1000)
)
def test_incremental_calls_give_the_same_times_however_time_is_sliced(
    slices: list[float], seed: int
) -> None:
    def rate(t: float) -> float:
        return 30.0 if int(t) % 2 == 0 else 0.0

    end_s = sum(slices)
    whole = ArrivalSchedule(rate, seed=seed).times_until(end_s)
    pieces = ArrivalSchedule(rate, seed=seed)
    sliced: list[float] = []
    until_s = 0.0
    for step in slices:
        until_s += step
        while (t_s := pieces.next_before(until_s)) is not None:
            sliced.append(t_s)
    assert sliced == pytest.approx(whole, abs=1e-9)


def test_a_rate_published_later_is_honoured_not_prejudged() -> None:
    published = {"rate": 0.0}
    schedule = ArrivalSchedule(lambda _t: published["rate"], seed=1)
    assert schedule.next_before(5.0) is None  # nothing at rate 0, and nothing committed
    published["rate"] = 1000.0
    first = schedule.next_before(6.0)
    assert first is not None and 5.0 <= first < 5.05


def test_seed_reproduces_and_generators_are_accepted() -> None:
    a = intended_times(lambda _t: 50.0, seed=9, end_s=10)
    assert a == intended_times(lambda _t: 50.0, seed=9, end_s=10)
    assert a != intended_times(lambda _t: 50.0, seed=10, end_s=10)
    assert a == intended_times(lambda _t: 50.0, seed=np.random.default_rng(9), end_s=10)


def test_invalid_arguments_name_the_allowed_values() -> None:
    with pytest.raises(
        ProfileError, match="Unknown arrival kind 'uniform'; known: poisson, gamma, constant"
    ):
        ArrivalSchedule(lambda _t: 1.0, kind="uniform")  # type: ignore[arg-type]
    with pytest.raises(ProfileError, match="cv must be"):
        ArrivalSchedule(lambda _t: 1.0, kind="gamma", cv=0)
