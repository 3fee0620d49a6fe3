"""The warm-up rule and the over-saturation flag on constructed in-flight series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schema import StageSpec
from analysis.steady_state import stage_windows, stages_from_records


def test_warmup_ends_when_in_flight_settles() -> None:
    # 0..99 s: in flight ramps up over 30 s to 20, then holds
    flight = np.minimum(np.arange(100.0) * (20 / 30), 20.0)
    (window,) = stage_windows([StageSpec(name="s", t_start_s=0, t_end_s=100)], flight)
    assert 27 <= window.warmup_s <= 32
    assert window.stable and window.constant


def test_warmup_is_clamped_to_10_and_50_percent() -> None:
    flat = np.full(100, 5.0)
    (quick,) = stage_windows([StageSpec(name="s", t_start_s=0, t_end_s=100)], flat)
    assert quick.warmup_s == 10.0
    growing = np.arange(100.0) ** 2
    (slow,) = stage_windows([StageSpec(name="s", t_start_s=0, t_end_s=100)], growing)
    assert slow.warmup_s == 50.0
    assert not slow.stable  # a queue that never drains


def test_ramp_stage_is_not_constant() -> None:
    spec = StageSpec(name="ramp", t_start_s=0, t_end_s=10, target_start=1, target_end=5)
    (window,) = stage_windows([spec], np.ones(10))
    assert not window.constant


def test_stages_from_record_names_when_the_manifest_has_none() -> None:
    names = pd.Series(["a", "a", "b", None])
    start = np.array([0.0, 5.0, 10.0, 12.0])
    stages = stages_from_records(names, start, np.array([1.0, 6.0, 11.0, 20.0]))
    assert [(s.name, s.t_start_s, s.t_end_s) for s in stages] == [("a", 0, 10), ("b", 10, 20)]
