"""``storm``: an overload driven by clients that retry naively: retries amplify the surge.

Stages: ``baseline``, ``ramp`` (when ``ramp_s`` > 0), ``overload`` at ``multiplier`` x
baseline, ``after`` back at baseline (where a storm shows whether the service recovers
or retries keep it down).

The profile only says what load to offer; the retrying is client behaviour. It carries
the client-policy hint in ``profile.params``: ``retry_policy`` ("naive" = retry at once,
no backoff; "backoff" = exponential backoff with full jitter; "none") and
``max_retries``. ``locustfiles`` reads ``shape.profile.params["retry_policy"]``.
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import Field

from profiles.base import Profile
from profiles.preset import Builder, PresetParams, profile_from
from profiles.viral import surge_stages, tail_stages


class StormParams(PresetParams):
    baseline: float = Field(default=20.0, ge=0, description="level before and after")
    multiplier: float = Field(
        default=3.0, ge=1, le=1000, description="overload = multiplier x baseline"
    )
    baseline_s: float = Field(default=120.0, gt=0, description="time before the overload")
    ramp_s: float = Field(default=0.0, ge=0, description="ramp to the overload (0 = step)")
    overload_s: float = Field(default=300.0, gt=0, description="time at the overload")
    after_s: float = Field(default=300.0, ge=0, description="time back at baseline")
    retry_policy: Literal["naive", "backoff", "none"] = Field(
        default="naive", description="client-policy hint for locustfiles"
    )
    max_retries: int = Field(default=5, ge=0, le=100, description="client-policy hint")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")


def build_storm(params: StormParams) -> Profile:
    peak = params.baseline * params.multiplier
    stages = surge_stages(
        baseline=params.baseline,
        peak=peak,
        baseline_s=params.baseline_s,
        ramp_s=params.ramp_s,
        hold_s=params.overload_s,
        noise_frac=params.noise_frac,
        hold_name="overload",
    )
    stages += tail_stages(
        peak=peak,
        level=params.baseline,
        decay_s=0.0,
        after_s=params.after_s,
        noise_frac=params.noise_frac,
    )
    return profile_from(
        params,
        name="storm",
        description=f"{params.multiplier:g}x overload with {params.retry_policy} retries",
        stages=tuple(stages),
    )


BUILDER = Builder(
    name="storm",
    params_model=StormParams,
    build=build_storm,
    summary="overload with naively retrying clients",
    multiplier_param="multiplier",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    StormShape = shape_class_for("storm")
