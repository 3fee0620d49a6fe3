"""``sweep``: a step ladder of load levels, each with a warm-up and a hold, for saturation curves.

Stages per level k (1-based): ``L<k>-warmup`` (when ``warmup_s`` > 0) and ``L<k>-hold``, both
steps at the level; analysis measures the holds only. Levels are ``levels`` when given,
else ``steps`` levels from ``start`` to ``stop`` spaced linearly or geometrically.
Open loop (``mode = "rate"``) by default: a closed-loop sweep measures concurrency, not
offered load.
"""

from __future__ import annotations

import sys
from typing import Literal, Self

from pydantic import Field, model_validator

from profiles.base import Mode, Profile, Stage
from profiles.preset import Builder, PresetParams, profile_from


class SweepParams(PresetParams):
    mode: Mode = Field(default="rate", description="users (closed loop) or rate (open loop, req/s)")
    levels: tuple[float, ...] | None = Field(default=None, description="explicit levels")
    start: float = Field(default=1.0, ge=0, description="first level")
    stop: float = Field(default=10.0, ge=0, description="last level")
    steps: int = Field(default=10, ge=1, le=200, description="number of levels")
    spacing: Literal["linear", "geometric"] = Field(default="linear", description="level spacing")
    warmup_s: float = Field(default=30.0, ge=0, description="warm-up per level")
    hold_s: float = Field(default=120.0, gt=0, description="measured hold per level")
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")

    @model_validator(mode="after")
    def _check_ladder(self) -> Self:
        if self.levels is not None:
            if not self.levels or min(self.levels) < 0:
                raise ValueError(f"levels must be non-empty and >= 0, got {list(self.levels)}")
        elif self.spacing == "geometric" and self.start <= 0:
            raise ValueError(f"geometric spacing needs start > 0, got start={self.start}")
        return self

    def ladder(self) -> tuple[float, ...]:
        if self.levels is not None:
            return self.levels
        if self.steps == 1:
            return (self.start,)
        span = self.steps - 1
        if self.spacing == "linear":
            return tuple(
                self.start + (self.stop - self.start) * k / span for k in range(self.steps)
            )
        return tuple(self.start * (self.stop / self.start) ** (k / span) for k in range(self.steps))


def build_sweep(params: SweepParams) -> Profile:
    stages: list[Stage] = []
    ladder = params.ladder()
    width = len(str(len(ladder)))
    for k, level in enumerate(ladder, start=1):
        parts = (("warmup", params.warmup_s), ("hold", params.hold_s))
        for part, duration_s in parts:
            if duration_s <= 0:
                continue
            stages.append(
                Stage(
                    name=f"L{k:0{width}d}-{part}",
                    duration_s=duration_s,
                    target_start=level,
                    target_end=level,
                    transition="step",
                    noise_frac=params.noise_frac,
                )
            )
    return profile_from(
        params,
        name="sweep",
        description=f"{len(ladder)}-level sweep {ladder[0]:g}..{ladder[-1]:g}",
        stages=tuple(stages),
    )


BUILDER = Builder(
    name="sweep",
    params_model=SweepParams,
    build=build_sweep,
    summary="step ladder with warm-up and hold per level",
    level_param=None,
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    SweepShape = shape_class_for("sweep")
