"""``flash``: a flash crowd: an instant spike to M x baseline and an instant release.

Stages: ``baseline``, ``spike`` (step to ``multiplier`` x baseline), ``release`` (step
back to baseline). The peak starts at ``baseline_s`` (profile time).
"""

from __future__ import annotations

import sys

from pydantic import Field

from profiles.base import Profile, Stage
from profiles.preset import Builder, PresetParams, profile_from


class FlashParams(PresetParams):
    baseline: float = Field(default=20.0, ge=0, description="level before and after")
    multiplier: float = Field(
        default=10.0, ge=1, le=1000, description="spike = multiplier x baseline"
    )
    baseline_s: float = Field(default=120.0, gt=0, description="time before the spike")
    spike_s: float = Field(default=60.0, gt=0, description="length of the spike")
    after_s: float = Field(default=240.0, gt=0, description="time after the release")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")


def build_flash(params: FlashParams) -> Profile:
    spike = params.baseline * params.multiplier
    levels = (
        ("baseline", params.baseline_s, params.baseline),
        ("spike", params.spike_s, spike),
        ("release", params.after_s, params.baseline),
    )
    stages = tuple(
        Stage(
            name=name,
            duration_s=duration_s,
            target_start=level,
            target_end=level,
            transition="step",
            noise_frac=params.noise_frac,
        )
        for name, duration_s, level in levels
    )
    return profile_from(
        params,
        name="flash",
        description=f"flash crowd {params.multiplier:g}x for {params.spike_s:g} s",
        stages=stages,
    )


BUILDER = Builder(
    name="flash",
    params_model=FlashParams,
    build=build_flash,
    summary="instant spike and release",
    multiplier_param="multiplier",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    FlashShape = shape_class_for("flash")
