"""``steady``: constant load, optionally after a linear ramp from zero.

Stages: ``ramp`` (only when ``ramp_s`` > 0) then ``steady``.
"""

from __future__ import annotations

import sys

from pydantic import Field

from profiles.base import Profile, Stage
from profiles.preset import Builder, PresetParams, profile_from


class SteadyParams(PresetParams):
    baseline: float = Field(default=10.0, ge=0, description="level (users or req/s)")
    duration_s: float = Field(default=600.0, gt=0, description="time at the level (profile s)")
    ramp_s: float = Field(default=0.0, ge=0, description="linear ramp from 0 before it")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")


def level_stages(
    *, level: float, ramp_s: float, hold_s: float, noise_frac: float, hold_name: str, ramp_name: str
) -> tuple[Stage, ...]:
    """An optional linear ramp from 0 to ``level``, then a hold (shared with ``soak``)."""
    ramp = (
        (Stage(name=ramp_name, duration_s=ramp_s, target_start=0.0, target_end=level),)
        if ramp_s > 0
        else ()
    )
    hold = Stage(
        name=hold_name,
        duration_s=hold_s,
        target_start=level,
        target_end=level,
        transition="step",
        noise_frac=noise_frac,
    )
    return (*ramp, hold)


def build_steady(params: SteadyParams) -> Profile:
    stages = level_stages(
        level=params.baseline,
        ramp_s=params.ramp_s,
        hold_s=params.duration_s,
        noise_frac=params.noise_frac,
        hold_name="steady",
        ramp_name="ramp",
    )
    return profile_from(params, name="steady", description="constant load", stages=stages)


BUILDER = Builder(
    name="steady", params_model=SteadyParams, build=build_steady, summary="constant load"
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    SteadyShape = shape_class_for("steady")
