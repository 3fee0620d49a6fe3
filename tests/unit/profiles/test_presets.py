"""Every preset: non-negative, reproducible from its seed, peaks and lasts as it says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import profiles
from profiles.base import Profile
from profiles.registry import BUILDERS

positive = st.floats(min_value=1.0, max_value=3600.0)
level = st.floats(min_value=0.5, max_value=500.0)
# Optional stages: absent (0) or at least a millisecond (shorter ones vanish in float sums).
optional = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=600.0))
common: dict[str, st.SearchStrategy[Any]] = {
    "seed": st.integers(min_value=-(2**40), max_value=2**40),
    "time_scale": st.floats(min_value=0.5, max_value=600.0),
}

# preset -> (parameter strategies, declared peak (run t_s, target) computed from the parameters)
PRESETS: dict[
    str, tuple[dict[str, st.SearchStrategy[Any]], Callable[[dict[str, Any]], tuple[float, float]]]
] = {
    "steady": (
        {"baseline": level, "duration_s": positive, "ramp_s": optional},
        lambda p: (p["ramp_s"], p["baseline"]),
    ),
    "soak": (
        {"baseline": level, "duration_s": positive, "warmup_s": optional},
        lambda p: (p["warmup_s"], p["baseline"]),
    ),
    "normal": (
        {
            "peak": level,
            "peak_to_trough": st.floats(1.5, 40),
            "days": st.integers(1, 3),
            "weekend_factor": st.floats(0.1, 1),
        },
        lambda p: (12 * 3600.0, p["peak"]),
    ),
    "viral": (
        {
            "baseline": level,
            "variant": st.sampled_from(["moderate", "severe", "extreme"]),
            "baseline_s": positive,
            "hold_s": positive,
            "decay_s": optional,
            "after_s": optional,
            "ramp_transition": st.sampled_from(["linear", "exponential", "sine"]),
        },
        lambda p: (
            p["baseline_s"] + {"moderate": 1800.0, "severe": 600.0, "extreme": 0.0}[p["variant"]],
            p["baseline"] * {"moderate": 2.0, "severe": 5.0, "extreme": 10.0}[p["variant"]],
        ),
    ),
    "flash": (
        {
            "baseline": level,
            "multiplier": st.floats(1.1, 20),
            "baseline_s": positive,
            "spike_s": positive,
            "after_s": positive,
        },
        lambda p: (p["baseline_s"], p["baseline"] * p["multiplier"]),
    ),
    "sweep": (
        {
            "start": st.floats(0.5, 10),
            "stop": st.floats(10.5, 100),
            "steps": st.integers(2, 12),
            "warmup_s": optional,
            "hold_s": positive,
        },
        lambda p: ((p["steps"] - 1) * (p["warmup_s"] + p["hold_s"]), p["stop"]),
    ),
    "failover": (
        {
            "baseline": level,
            "multiplier": st.floats(1.1, 10),
            "baseline_s": positive,
            "ramp_s": optional,
            "surge_s": positive,
        },
        lambda p: (p["baseline_s"] + p["ramp_s"], p["baseline"] * p["multiplier"]),
    ),
    "storm": (
        {
            "baseline": level,
            "multiplier": st.floats(1.1, 10),
            "baseline_s": positive,
            "ramp_s": optional,
            "overload_s": positive,
        },
        lambda p: (p["baseline_s"] + p["ramp_s"], p["baseline"] * p["multiplier"]),
    ),
    "search": (
        {"start_rate": st.floats(0.5, 5), "max_rate": st.floats(50, 500), "step_s": positive},
        lambda p: (_search_plan_peak_t(p), p["max_rate"]),
    ),
}


def _search_plan_peak_t(p: dict[str, Any]) -> float:
    rate, probes = p["start_rate"], 0
    while rate < p["max_rate"]:
        rate, probes = min(rate * 2.0, p["max_rate"]), probes + 1
    return float(probes * p["step_s"])


def test_every_registered_builder_has_a_preset_file_and_vice_versa() -> None:
    assert profiles.available() == sorted(BUILDERS) == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_bundled_preset_loads_with_its_defaults(name: str) -> None:
    profile = profiles.load(name)
    assert profile.name == name
    assert profile.duration_s > 0
    assert profile.params["seed"] == profile.seed


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_properties(name: str) -> None:
    strategies, declared_peak = PRESETS[name]

    @settings(max_examples=25, deadline=None)
    @given(
        st.fixed_dictionaries({**strategies, **common}), st.lists(st.floats(-1, 1e7), max_size=20)
    )
    def check(params: dict[str, Any], times: list[float]) -> None:
        profile = profiles.load(name, **params)
        again = profiles.load(name, **params)
        scale = params["time_scale"]
        total_profile_s = sum(stage.duration_s for stage in profile.stages)
        # Lasts as long as it says, in run time.
        assert profile.duration_s == pytest.approx(total_profile_s / scale)
        assert profile.stage_at(profile.duration_s) is None
        assert profile.target_at(profile.duration_s) == 0
        last_run_s = profile.stages[-1].duration_s / scale
        assert profile.stage_at(profile.duration_s - last_run_s / 2) is profile.stages[-1]
        # Non-negative and reproducible from the seed.
        samples = [*times, *(profile.duration_s * k / 97 for k in range(97))]
        values = [profile.target_at(t) for t in samples]
        assert all(v >= 0 for v in values)
        assert values == [again.target_at(t) for t in samples]
        # Reaches its peak when it says.
        peak_t_profile_s, peak = declared_peak(params)
        peak_t_s = peak_t_profile_s / scale
        peak_at_s, peak_value = profile.peak()
        assert peak_at_s == pytest.approx(peak_t_s)
        assert peak_value == pytest.approx(peak)
        assert profile.nominal_at(peak_t_s + 1e-9 * profile.duration_s) == pytest.approx(
            peak, rel=1e-6
        )
        assert max(profile.nominal_at(t) for t in samples) <= peak * (1 + 1e-9)

    check()


def test_seed_changes_the_noise_but_not_the_shape() -> None:
    a, b = profiles.load("normal", seed=1), profiles.load("normal", seed=2)
    times = [t + 0.5 for t in range(0, int(a.duration_s), 7)]
    assert [a.target_at(t) for t in times] != [b.target_at(t) for t in times]
    assert [a.nominal_at(t) for t in times] == [b.nominal_at(t) for t in times]


def test_normal_variants_follow_the_reference_ratios() -> None:
    # ../shared/REFERENCE.md section 4: ~30x in one region, 2-3x for a global service.
    for variant, ratio in (("region", 30.0), ("global", 2.5)):
        profile = profiles.load("normal", variant=variant, noise_frac=0)
        assert profile.stages[0].target_end / profile.stages[0].target_start == pytest.approx(ratio)


def test_normal_week_scales_weekends() -> None:
    week = profiles.load("normal", days=7, start_weekday="mon", weekend_factor=0.5, noise_frac=0)
    peaks = {stage.name: stage.target_end for stage in week.stages if stage.name.endswith("rise")}
    assert peaks["d6-sat-rise"] == peaks["d1-mon-rise"] / 2 == peaks["d7-sun-rise"]
    assert week.duration_s == pytest.approx(7 * 24 * 3600 / 60)


def test_viral_free_parameters_override_the_variant() -> None:
    profile = profiles.load("viral", variant="severe", multiplier=3, ramp_s=120, baseline=10)
    assert profile.peak()[1] == 30
    ramp = next(stage for stage in profile.stages if stage.name == "ramp")
    assert ramp.duration_s == 120
    extreme = profiles.load("viral", variant="extreme")
    assert "ramp" not in [stage.name for stage in extreme.stages]


def test_failover_schedules_kill_then_restore_of_the_replica() -> None:
    profile = profiles.load(
        "failover", replica=2, kill_mode="drop", restart_after_s=45, time_scale=10
    )
    (kill_t, kill), (restore_t, restore) = profile.event_times_s()
    stage_starts = {b.name: b.t_start_s for b in profile.boundaries()}
    assert (kill.kind, kill.target, kill_t) == ("kill_replica", 2, stage_starts["failover"])
    assert (restore.kind, restore.target, restore_t) == (
        "restore_replica",
        2,
        stage_starts["recovery"],
    )
    assert kill.params == {"mode": "drop", "restart_after_s": 45}  # real seconds, unscaled
    assert profile.params["token_env"] == "SURGEBENCH_ADMIN_TOKEN"


def test_storm_carries_the_retry_policy_hint() -> None:
    assert profiles.load("storm").params["retry_policy"] == "naive"
    assert profiles.load("storm", retry_policy="backoff").params["retry_policy"] == "backoff"


def test_sweep_has_a_warmup_and_a_hold_per_level() -> None:
    sweep = profiles.load("sweep", levels=[5, 10, 20], warmup_s=10, hold_s=30)
    assert [stage.name for stage in sweep.stages] == [
        "L1-warmup",
        "L1-hold",
        "L2-warmup",
        "L2-hold",
        "L3-warmup",
        "L3-hold",
    ]
    assert [stage.target_end for stage in sweep.stages[1::2]] == [5, 10, 20]
    geometric = profiles.load("sweep", start=1, stop=1000, steps=4, spacing="geometric")
    assert [s.target_end for s in geometric.stages[1::2]] == pytest.approx([1, 10, 100, 1000])


def test_profiles_is_a_plain_model_usable_without_presets() -> None:
    assert isinstance(profiles.load("steady"), Profile)
