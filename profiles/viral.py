"""``viral``: a baseline, a ramp to M x over T, a hold, a decay and the new normal after it.

Stages: ``baseline`` (step), ``ramp`` (when ``ramp_s`` > 0), ``hold`` (step at the peak),
``decay`` (linear, when ``decay_s`` > 0) to ``settle_multiplier`` x baseline, ``after``
(when ``after_s`` > 0). The peak is reached at ``baseline_s + ramp_s`` (profile time).

No public request-rate multipliers for real surges exist (../shared/REFERENCE.md section
4), so the variants are parameters: moderate (2x over 30 min), severe (5x over 10 min),
extreme (10x as a step). ``multiplier`` and ``ramp_s`` override the variant's values.
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import Field

from profiles.base import Profile, Stage, Transition
from profiles.preset import Builder, PresetParams, profile_from

# variant -> (multiplier, ramp_s in profile seconds)
VARIANTS: dict[str, tuple[float, float]] = {
    "moderate": (2.0, 1800.0),
    "severe": (5.0, 600.0),
    "extreme": (10.0, 0.0),
}


class ViralParams(PresetParams):
    baseline: float = Field(default=20.0, ge=0, description="level before the surge")
    variant: Literal["moderate", "severe", "extreme"] = Field(
        default="moderate", description="moderate 2x/30 min, severe 5x/10 min, extreme 10x step"
    )
    multiplier: float | None = Field(
        default=None, ge=1, le=1000, description="peak = multiplier x baseline (overrides variant)"
    )
    ramp_s: float | None = Field(default=None, ge=0, description="ramp time (overrides variant)")
    ramp_transition: Literal["linear", "exponential", "sine"] = Field(
        default="linear", description="shape of the ramp"
    )
    baseline_s: float = Field(default=300.0, gt=0, description="time at baseline before the surge")
    hold_s: float = Field(default=600.0, ge=0, description="time at the peak")
    decay_s: float = Field(default=600.0, ge=0, description="linear decay after the hold")
    settle_multiplier: float = Field(
        default=1.0, ge=0, le=1000, description="level after the decay, x baseline"
    )
    after_s: float = Field(default=300.0, ge=0, description="time at the settled level")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")

    @property
    def surge(self) -> tuple[float, float]:
        """Effective ``(multiplier, ramp_s)``."""
        multiplier, ramp_s = VARIANTS[self.variant]
        return (
            self.multiplier if self.multiplier is not None else multiplier,
            self.ramp_s if self.ramp_s is not None else ramp_s,
        )


def surge_stages(
    *,
    baseline: float,
    peak: float,
    baseline_s: float,
    ramp_s: float,
    hold_s: float,
    noise_frac: float,
    hold_name: str = "hold",
    ramp_transition: Transition = "linear",
) -> list[Stage]:
    """``baseline`` (step), ``ramp`` (if ``ramp_s`` > 0), the hold at ``peak`` (if ``hold_s`` > 0).

    Shared by viral, failover and storm.
    """
    stages = [_flat("baseline", baseline_s, baseline, noise_frac)]
    if ramp_s > 0:
        stages.append(
            Stage(
                name="ramp",
                duration_s=ramp_s,
                target_start=baseline,
                target_end=peak,
                transition=ramp_transition,
                noise_frac=noise_frac,
            )
        )
    if hold_s > 0:
        stages.append(_flat(hold_name, hold_s, peak, noise_frac))
    return stages


def _flat(name: str, duration_s: float, level: float, noise_frac: float) -> Stage:
    return Stage(
        name=name,
        duration_s=duration_s,
        target_start=level,
        target_end=level,
        transition="step",
        noise_frac=noise_frac,
    )


def tail_stages(
    *, peak: float, level: float, decay_s: float, after_s: float, noise_frac: float
) -> list[Stage]:
    """``decay`` (linear from ``peak``, if ``decay_s`` > 0) then ``after`` at ``level``."""
    stages: list[Stage] = []
    if decay_s > 0:
        stages.append(
            Stage(
                name="decay",
                duration_s=decay_s,
                target_start=peak,
                target_end=level,
                noise_frac=noise_frac,
            )
        )
    if after_s > 0:
        stages.append(_flat("after", after_s, level, noise_frac))
    return stages


def build_viral(params: ViralParams) -> Profile:
    multiplier, ramp_s = params.surge
    peak = params.baseline * multiplier
    stages = surge_stages(
        baseline=params.baseline,
        peak=peak,
        baseline_s=params.baseline_s,
        ramp_s=ramp_s,
        hold_s=params.hold_s,
        noise_frac=params.noise_frac,
        ramp_transition=params.ramp_transition,
    )
    stages += tail_stages(
        peak=peak,
        level=params.baseline * params.settle_multiplier,
        decay_s=params.decay_s,
        after_s=params.after_s,
        noise_frac=params.noise_frac,
    )
    return profile_from(
        params,
        name="viral",
        description=f"viral surge {multiplier:g}x over {ramp_s:g} s",
        stages=tuple(stages),
    )


BUILDER = Builder(
    name="viral",
    params_model=ViralParams,
    build=build_viral,
    summary="baseline, ramp to M x over T, hold, decay",
    multiplier_param="multiplier",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    ViralShape = shape_class_for("viral")
