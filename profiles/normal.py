"""``normal``: a diurnal day (or week): a sinusoid from the daily trough to the peak and back.

t = 0 is the daily trough; the peak comes 12 h (profile time) later. Each day is two
12-hour ``sine`` stages, ``d<N>-<weekday>-rise`` and ``d<N>-<weekday>-fall``; the
sine transition's half-cosine makes them an exact 24-hour sinusoid. Saturdays and
Sundays are scaled by ``weekend_factor``.

Trough-to-peak ratios (../shared/REFERENCE.md section 4): BurstGPT's Azure OpenAI traces
show about 30x for conversation traffic in one region and weekends about half of
weekdays; a global consumer service is flatter, 2-3x (an assumption). The variants
``region`` (30x) and ``global`` (2.5x) pick those; ``peak_to_trough`` overrides them.
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import Field

from profiles.base import Profile, Stage
from profiles.preset import Builder, PresetParams, profile_from

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKEND = frozenset({"sat", "sun"})
_HALF_DAY_S = 12 * 3600.0
_VARIANT_RATIO = {"global": 2.5, "region": 30.0}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class NormalParams(PresetParams):
    peak: float = Field(default=100.0, ge=0, description="weekday peak (users or req/s)")
    variant: Literal["global", "region"] = Field(
        default="global", description="global: 2.5x trough-to-peak; region: 30x"
    )
    peak_to_trough: float | None = Field(
        default=None, ge=1, le=1000, description="overrides the variant's ratio"
    )
    days: int = Field(default=1, ge=1, le=28, description="number of days")
    start_weekday: Weekday = Field(default="mon", description="weekday of day 1")
    weekend_factor: float = Field(default=0.5, gt=0, le=2, description="Sat/Sun scale")
    noise_frac: float = Field(default=0.05, ge=0, le=1, description="per-second noise amplitude")

    @property
    def ratio(self) -> float:
        return (
            self.peak_to_trough if self.peak_to_trough is not None else _VARIANT_RATIO[self.variant]
        )


def build_normal(params: NormalParams) -> Profile:
    first = WEEKDAYS.index(params.start_weekday)
    weekday = [WEEKDAYS[(first + d) % 7] for d in range(params.days + 1)]
    factor = [params.weekend_factor if day in _WEEKEND else 1.0 for day in weekday]
    peaks = [params.peak * f for f in factor]
    troughs = [p / params.ratio for p in peaks]
    stages: list[Stage] = []
    for d in range(params.days):
        label = f"d{d + 1}-{weekday[d]}"
        for suffix, start, end in (
            ("rise", troughs[d], peaks[d]),
            ("fall", peaks[d], troughs[d + 1]),
        ):
            stages.append(
                Stage(
                    name=f"{label}-{suffix}",
                    duration_s=_HALF_DAY_S,
                    target_start=start,
                    target_end=end,
                    transition="sine",
                    noise_frac=params.noise_frac,
                )
            )
    return profile_from(
        params,
        name="normal",
        description=f"diurnal traffic, {params.ratio:g}x trough to peak",
        stages=tuple(stages),
    )


BUILDER = Builder(
    name="normal",
    params_model=NormalParams,
    build=build_normal,
    summary="diurnal day/week with trough-to-peak ratio, weekend factor and noise",
    level_param="peak",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    NormalShape = shape_class_for("normal")
