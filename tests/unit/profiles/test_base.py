"""The profile model: transitions, time scaling, noise, stage lookup and validation."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from profiles.base import TRANSITIONS, Profile, ScheduledEvent, Stage, unit_noise

levels = st.floats(min_value=0, max_value=1e4, allow_nan=False)
durations = st.floats(min_value=0.5, max_value=1e5, allow_nan=False)
transitions = st.sampled_from(TRANSITIONS)


@st.composite
def stages(draw: st.DrawFn) -> tuple[Stage, ...]:
    n = draw(st.integers(min_value=1, max_value=6))
    return tuple(
        Stage(
            name=f"s{i}",
            duration_s=draw(durations),
            target_start=draw(levels),
            target_end=draw(levels),
            transition=draw(transitions),
            noise_frac=draw(st.floats(min_value=0, max_value=1)),
        )
        for i in range(n)
    )


@given(st.sampled_from(["linear", "exponential", "sine"]), levels, levels)
def test_continuous_transitions_start_and_end_at_their_targets(
    transition: str, start: float, end: float
) -> None:
    stage = Stage.model_validate(
        {
            "name": "s",
            "duration_s": 10,
            "target_start": start,
            "target_end": end,
            "transition": transition,
        }
    )
    assert stage.nominal_at(0.0) == pytest.approx(start, rel=1e-9, abs=1e-9)
    assert stage.nominal_at(1.0) == pytest.approx(end, rel=1e-9, abs=1e-9)


@given(transitions, levels, levels, st.lists(st.floats(min_value=0, max_value=1), min_size=2))
def test_transitions_are_monotone_between_their_targets(
    transition: str, start: float, end: float, us: list[float]
) -> None:
    stage = Stage.model_validate(
        {
            "name": "s",
            "duration_s": 10,
            "target_start": start,
            "target_end": end,
            "transition": transition,
        }
    )
    values = [stage.nominal_at(u) for u in sorted(us)]
    lo, hi = min(start, end), max(start, end)
    assert all(lo - 1e-6 * (1 + hi) <= v <= hi + 1e-6 * (1 + hi) for v in values)
    steps = [b - a for a, b in itertools.pairwise(values)]
    sign = 1 if end >= start else -1
    assert all(sign * step >= -1e-6 * (1 + hi) for step in steps)


def test_step_holds_the_end_target_and_sine_is_a_half_cosine() -> None:
    step = Stage(name="s", duration_s=1, target_start=1, target_end=5, transition="step")
    assert [step.nominal_at(u) for u in (0.0, 0.5, 1.0)] == [5, 5, 5]
    sine = Stage(name="s", duration_s=1, target_start=0, target_end=2, transition="sine")
    assert sine.nominal_at(0.25) == pytest.approx(1 - math.cos(math.pi / 4))


@settings(max_examples=60)
@given(stages(), st.floats(min_value=0.01, max_value=1000), st.integers(), st.data())
def test_time_scale_divides_every_duration(
    stage_list: tuple[Stage, ...], scale: float, seed: int, data: st.DataObject
) -> None:
    base = Profile(name="p", stages=stage_list, seed=seed)
    scaled = base.model_copy(update={"time_scale": scale})
    scaled = Profile.model_validate(scaled.model_dump())
    assert scaled.duration_s == pytest.approx(base.duration_s / scale)
    t_s = data.draw(st.floats(min_value=0, max_value=base.duration_s * 0.999))
    assert scaled.nominal_at(t_s / scale) == pytest.approx(base.nominal_at(t_s), rel=1e-6, abs=1e-6)
    for a, b in zip(base.boundaries(), scaled.boundaries(), strict=True):
        assert b.t_end_s == pytest.approx(a.t_end_s / scale)


@settings(max_examples=60)
@given(stages(), st.integers(), st.lists(st.floats(min_value=-10, max_value=2e5), max_size=30))
def test_target_is_non_negative_bounded_and_independent_of_call_order(
    stage_list: tuple[Stage, ...], seed: int, times: list[float]
) -> None:
    profile = Profile(name="p", stages=stage_list, seed=seed)
    forward = [profile.target_at(t) for t in times]
    backward = [profile.target_at(t) for t in reversed(times)][::-1]
    assert forward == backward
    for t_s, value in zip(times, forward, strict=True):
        assert 0 <= value <= profile.max_target() + 1e-9
        if t_s < 0 or t_s >= profile.duration_s:
            assert value == 0
            assert profile.stage_at(t_s) is None


def test_noise_is_bounded_seeded_and_varies_per_second() -> None:
    values = [unit_noise(7, s) for s in range(2000)]
    assert all(-1 <= v <= 1 for v in values)
    assert values == [unit_noise(7, s) for s in range(2000)]
    assert values != [unit_noise(8, s) for s in range(2000)]
    assert abs(sum(values) / len(values)) < 0.05
    stage = Stage(name="s", duration_s=100, target_start=10, target_end=10, noise_frac=0.2)
    profile = Profile(name="p", stages=(stage,), seed=3)
    assert profile.target_at(5.1) == profile.target_at(5.9)  # constant within a second
    assert len({profile.target_at(t + 0.5) for t in range(100)}) > 50


def test_stage_lookup_and_boundaries_follow_the_stages() -> None:
    profile = Profile(
        name="p",
        stages=(
            Stage(name="a", duration_s=10, target_start=0, target_end=10),
            Stage(name="b", duration_s=20, target_start=10, target_end=10, transition="step"),
        ),
        time_scale=2,
    )
    assert profile.duration_s == 15
    assert [(b.name, b.t_start_s, b.t_end_s) for b in profile.boundaries()] == [
        ("a", 0, 5),
        ("b", 5, 15),
    ]
    assert profile.stage_at(4.99) is not None and profile.stage_at(4.99).name == "a"  # type: ignore[union-attr]
    assert profile.stage_at(5.0).name == "b"  # type: ignore[union-attr]
    assert profile.stage_at(15.0) is None
    assert profile.peak() == (5.0, 10.0)
    assert profile.target_at(2.5) == pytest.approx(5.0)


def test_invalid_profiles_say_what_is_wrong() -> None:
    stage = Stage(name="a", duration_s=1, target_start=0, target_end=0)
    with pytest.raises(ValidationError, match="appears twice"):
        Profile(name="p", stages=(stage, stage))
    with pytest.raises(ValidationError, match="after the profile's end"):
        Profile(name="p", stages=(stage,), events=(ScheduledEvent(t_s=2, kind="clear_faults"),))
    with pytest.raises(ValidationError, match="needs 'target'"):
        ScheduledEvent(t_s=0, kind="kill_replica")
    with pytest.raises(ValidationError, match="'step', 'linear', 'exponential' or 'sine'"):
        Stage.model_validate(
            {
                "name": "a",
                "duration_s": 1,
                "target_start": 0,
                "target_end": 0,
                "transition": "cubic",
            }
        )
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Stage(name="a", duration_s=1, target_start=-1, target_end=0)


def test_events_run_on_the_scaled_timeline_and_manifest_entry_is_complete() -> None:
    profile = Profile(
        name="p",
        stages=(Stage(name="a", duration_s=100, target_start=1, target_end=1),),
        time_scale=10,
        events=(
            ScheduledEvent(t_s=50, kind="restore_replica", target=0),
            ScheduledEvent(t_s=20, kind="kill_replica", target=0, params={"restart_after_s": 30}),
        ),
    )
    assert [(t, e.kind) for t, e in profile.event_times_s()] == [
        (2.0, "kill_replica"),
        (5.0, "restore_replica"),
    ]
    # Server-side durations are real seconds: never scaled.
    assert profile.event_times_s()[0][1].params == {"restart_after_s": 30}
    entry = profile.manifest_entry()
    assert entry["time_scale"] == 10 and entry["duration_s"] == 10
    assert entry["stages"][0]["duration_s"] == 100
