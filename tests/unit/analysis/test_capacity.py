"""Capacity formulas against hand-computed values."""

from __future__ import annotations

import math

import pytest

from analysis.capacity import (
    CapacityInputs,
    erlang_c_replicas,
    log_erlang_c,
    plan_capacity,
    replicas_for,
    scaling_efficiency,
    surge_headroom,
)
from analysis.stats import Interval


def test_headroom_rule() -> None:
    assert surge_headroom(10.0, react_s=60, ramp_s=600) == pytest.approx(1.9)
    assert surge_headroom(10.0, react_s=600, ramp_s=60) == 10.0
    assert surge_headroom(5.0, react_s=60, ramp_s=0) == 5.0


def test_replica_count_formula() -> None:
    # ceil(1000 / (0.8 * 1.0 * 100)) = ceil(12.5) = 13
    assert replicas_for(1000, 100, 0.8, 1.0) == 13
    assert replicas_for(800, 100, 0.8, 1.0) == 10


def test_erlang_c_known_value_and_large_n() -> None:
    # M/M/2 with a = 1 Erlang: C = (a^2/2! * 2/(2-1)) / (1 + a + 1) = 1/3
    assert math.exp(log_erlang_c(2, 1.0)) == pytest.approx(1 / 3)
    # thousands of servers do not overflow in log space
    n = erlang_c_replicas(rate_rps=190_000.0, per_replica_rps=100.0, wait_max_frac=0.2)
    assert 1900 < n < 2000


def test_plan_counts_and_ranges() -> None:
    inputs = CapacityInputs(
        peak_rps=1000, utilisation_frac=0.8, surge_multiplier=3, surge_ramp_s=600,
        react_s=300, gpus_per_replica=4, price_per_gpu_hour=2.0,
    )  # fmt: skip
    plan = plan_capacity(Interval(100.0, 80.0, 125.0, 0.95), inputs)
    assert plan.headroom_multiplier == pytest.approx(2.0)
    assert (plan.replicas_normal.value, plan.replicas_normal.low, plan.replicas_normal.high) == (
        13, 10, 16,
    )  # fmt: skip
    assert plan.replicas_surge.value == 25
    assert plan.replicas_n_plus_1.value == 26
    assert plan.gpus.value == 104
    assert plan.cost_per_hour == (208.0, plan.gpus.low * 2.0, plan.gpus.high * 2.0)
    assert plan.scaling.source == "assumed_linear"
    assert any("assumed linear" in c for c in plan.caveats)


def test_more_per_replica_capacity_never_needs_more_replicas() -> None:
    inputs = CapacityInputs(peak_rps=500)
    counts = [plan_capacity(Interval(x, x, x, 0.95), inputs).replicas_n_plus_1.value
              for x in (10.0, 20.0, 40.0, 80.0)]  # fmt: skip
    assert counts == sorted(counts, reverse=True)


def test_scaling_efficiency_from_multi_replica_runs() -> None:
    scaling = scaling_efficiency([(1, 100.0), (2, 180.0), (4, 360.0)])
    assert scaling.source == "measured"
    assert scaling.efficiency_frac == pytest.approx(0.9)
    plan = plan_capacity(Interval(100.0, 100.0, 100.0, 0.95), CapacityInputs(peak_rps=900), scaling)
    assert plan.replicas_normal.value == math.ceil(900 / (0.85 * 0.9 * 100))


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="utilisation_frac must be in"):
        CapacityInputs(peak_rps=1, utilisation_frac=1.5)
    with pytest.raises(ValueError, match="per-replica capacity must be > 0"):
        plan_capacity(Interval(0.0, 0.0, 0.0, 0.95), CapacityInputs(peak_rps=1))
