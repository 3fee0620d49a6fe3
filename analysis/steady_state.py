"""Warm-up trimming: which part of each stage is steady state (docs/analysis.md states the rule).

Rule, per stage of duration D with per-second mean in-flight counts x:
1. reference = median of x over the stage's second half;
2. settle = the first second at which the trailing 5-second mean of x is within
   max(10% of the reference, 1 request) of the reference;
3. warm-up = settle clamped to [0.1 D, 0.5 D]; steady state = [start + warm-up, end).
A stage whose target changes (a ramp) is trimmed the same way but marked ``constant=False``
and never used as a saturation point. A steady part is ``stable`` unless the in-flight count
keeps growing through it (least-squares growth over the span > max(20% of its mean, 2)),
the sign of a queue that never drains: an over-saturated step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.schema import StageSpec

WARMUP_MIN_FRAC: Final = 0.1
WARMUP_MAX_FRAC: Final = 0.5
SETTLE_TOL_FRAC: Final = 0.1
SETTLE_TOL_REQUESTS: Final = 1.0
ROLLING_S: Final = 5
GROWTH_MAX_FRAC: Final = 0.2
GROWTH_MAX_REQUESTS: Final = 2.0


@dataclass(frozen=True, slots=True)
class StageWindow:
    name: str
    t_start_s: float
    t_end_s: float
    warmup_s: float
    target_start: float | None
    target_end: float | None
    constant: bool
    """The stage holds one target (not a ramp)."""
    stable: bool
    """The in-flight count does not keep growing through the steady part."""

    @property
    def steady_start_s(self) -> float:
        return self.t_start_s + self.warmup_s

    @property
    def steady_s(self) -> float:
        return self.t_end_s - self.steady_start_s


def stages_from_records(
    stage: pd.Series, t_start_s: npt.NDArray[np.float64], t_done_s: npt.NDArray[np.float64]
) -> list[StageSpec]:
    """Stage spans from the records' ``stage`` column when the manifest lists none.

    Each stage runs from its first request's start to the next stage's first start; without
    stage names the whole run is one stage called "run".
    """
    finite = np.isfinite(t_start_s)
    if not finite.any():
        return []
    end = float(np.nanmax(t_done_s)) if np.isfinite(t_done_s).any() else 0.0
    names = stage.astype(object).to_numpy()
    named = finite & ~pd.isna(names)
    if not named.any():
        return [StageSpec(name="run", t_start_s=float(t_start_s[finite].min()), t_end_s=end)]
    firsts = pd.Series(t_start_s[named]).groupby(names[named].astype(str)).min().sort_values()
    starts = firsts.to_numpy(dtype=np.float64)
    ends = np.append(starts[1:], max(end, starts[-1] + 1.0))
    return [
        StageSpec(name=str(n), t_start_s=float(s), t_end_s=float(e))
        for n, s, e in zip(firsts.index, starts, ends, strict=True)
    ]


def stage_windows(
    stages: Sequence[StageSpec], in_flight_per_s: npt.NDArray[np.float64]
) -> tuple[StageWindow, ...]:
    """Apply the warm-up rule to each stage; ``in_flight_per_s[i]`` covers second [i, i+1)."""
    out = []
    for stage in sorted(stages, key=lambda s: s.t_start_s):
        duration = stage.t_end_s - stage.t_start_s
        if duration <= 0:
            continue
        first = max(int(np.ceil(stage.t_start_s)), 0)
        last = min(int(np.floor(stage.t_end_s)), in_flight_per_s.size)
        x = in_flight_per_s[first:last] if last > first else np.empty(0)
        warmup = _warmup_s(x, duration)
        steady = x[int(np.ceil(warmup)) :]
        constant = stage.target_start is None or stage.target_end in (None, stage.target_start)
        out.append(
            StageWindow(
                name=stage.name,
                t_start_s=stage.t_start_s,
                t_end_s=stage.t_end_s,
                warmup_s=warmup,
                target_start=stage.target_start,
                target_end=stage.target_end,
                constant=constant,
                stable=_stable(steady),
            )
        )
    return tuple(out)


def _warmup_s(x: npt.NDArray[np.float64], duration_s: float) -> float:
    low, high = WARMUP_MIN_FRAC * duration_s, WARMUP_MAX_FRAC * duration_s
    if x.size < 2:
        return low
    reference = float(np.median(x[x.size // 2 :]))
    tolerance = max(SETTLE_TOL_FRAC * reference, SETTLE_TOL_REQUESTS)
    window = min(ROLLING_S, x.size)
    rolling = np.convolve(x, np.ones(window) / window, mode="full")[: x.size]
    counts = np.minimum(np.arange(1, x.size + 1), window)
    rolling = rolling * window / counts  # trailing mean over the seconds seen so far
    settled = np.flatnonzero(np.abs(rolling - reference) <= tolerance)
    settle = float(settled[0] + 1) if settled.size else high
    return float(np.clip(settle, low, high))


def _stable(x: npt.NDArray[np.float64]) -> bool:
    if x.size < 3:
        return True
    t = np.arange(x.size, dtype=np.float64)
    slope = float(np.polyfit(t, x, 1)[0])
    growth = slope * x.size
    return growth <= max(GROWTH_MAX_FRAC * float(np.mean(x)), GROWTH_MAX_REQUESTS)
