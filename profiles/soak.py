"""``soak``: long steady load (hours) after a warm-up ramp, to find leaks and drift.

Stages: ``warmup`` (linear from 0, when ``warmup_s`` > 0) then ``soak``.
"""

from __future__ import annotations

import sys

from pydantic import Field

from profiles.base import Profile
from profiles.preset import Builder, PresetParams, profile_from
from profiles.steady import level_stages


class SoakParams(PresetParams):
    baseline: float = Field(default=10.0, ge=0, description="level (users or req/s)")
    duration_s: float = Field(default=14_400.0, gt=0, description="time at the level (profile s)")
    warmup_s: float = Field(default=60.0, ge=0, description="linear ramp from 0 before it")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")


def build_soak(params: SoakParams) -> Profile:
    stages = level_stages(
        level=params.baseline,
        ramp_s=params.warmup_s,
        hold_s=params.duration_s,
        noise_frac=params.noise_frac,
        hold_name="soak",
        ramp_name="warmup",
    )
    return profile_from(params, name="soak", description="long steady load", stages=stages)


BUILDER = Builder(
    name="soak", params_model=SoakParams, build=build_soak, summary="long steady load"
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    SoakShape = shape_class_for("soak")
