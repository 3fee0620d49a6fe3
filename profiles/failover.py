"""``failover``: a surge during which one stub replica is killed and later restored.

Stages: ``baseline``, ``ramp`` (when ``ramp_s`` > 0), ``surge`` (full fleet at the peak),
``failover`` (same load, one replica down), ``recovery`` (replica restored, still at the
peak), ``after`` (back at baseline). Events: ``kill_replica`` at the start of
``failover`` and ``restore_replica`` at the start of ``recovery``, fired by the Locust
shape through the stub's admin API with the bearer token read from the environment
variable NAMED by ``token_env`` (the token itself is never a parameter).

A failover drill is a capacity-loss scenario (../shared/REFERENCE.md section 4: the
June 2025 OpenAI incident), so ``multiplier`` = 1 is a valid pure capacity-loss drill.
``restart_after_s`` is passed to the stub as is: it is server-side, in real seconds,
and NOT compressed by ``time_scale``.
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import Field

from profiles.base import Profile, ScheduledEvent, Stage
from profiles.preset import Builder, PresetParams, profile_from
from profiles.viral import surge_stages, tail_stages


class FailoverParams(PresetParams):
    baseline: float = Field(default=20.0, ge=0, description="level before and after")
    multiplier: float = Field(
        default=2.0, ge=1, le=1000, description="surge = multiplier x baseline"
    )
    baseline_s: float = Field(default=120.0, gt=0, description="time before the surge")
    ramp_s: float = Field(default=60.0, ge=0, description="ramp to the surge")
    surge_s: float = Field(default=120.0, gt=0, description="surge with the full fleet")
    failover_s: float = Field(default=180.0, gt=0, description="time with the replica down")
    recovery_s: float = Field(default=180.0, gt=0, description="surge after the restore")
    after_s: float = Field(default=120.0, ge=0, description="time back at baseline")
    replica: int = Field(default=0, ge=0, description="index of the replica to kill")
    kill_mode: Literal["error", "drop"] = Field(
        default="error", description="in-flight streams end with an error chunk, or are dropped"
    )
    restart_after_s: float | None = Field(
        default=None, ge=0, description="stub restarts it by itself after this (real s)"
    )
    token_env: str = Field(
        default="SURGEBENCH_ADMIN_TOKEN",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the env var holding the admin token",
    )
    noise_frac: float = Field(default=0.0, ge=0, le=1, description="per-second noise amplitude")


def build_failover(params: FailoverParams) -> Profile:
    peak = params.baseline * params.multiplier
    stages = surge_stages(
        baseline=params.baseline,
        peak=peak,
        baseline_s=params.baseline_s,
        ramp_s=params.ramp_s,
        hold_s=params.surge_s,
        noise_frac=params.noise_frac,
        hold_name="surge",
    )
    kill_t_s = sum(stage.duration_s for stage in stages)
    for name, duration_s in (("failover", params.failover_s), ("recovery", params.recovery_s)):
        stages.append(
            Stage(
                name=name,
                duration_s=duration_s,
                target_start=peak,
                target_end=peak,
                transition="step",
                noise_frac=params.noise_frac,
            )
        )
    stages += tail_stages(
        peak=peak,
        level=params.baseline,
        decay_s=0.0,
        after_s=params.after_s,
        noise_frac=params.noise_frac,
    )
    events = (
        ScheduledEvent(
            t_s=kill_t_s,
            kind="kill_replica",
            target=params.replica,
            params={"mode": params.kill_mode, "restart_after_s": params.restart_after_s},
        ),
        ScheduledEvent(
            t_s=kill_t_s + params.failover_s, kind="restore_replica", target=params.replica
        ),
    )
    return profile_from(
        params,
        name="failover",
        description=f"{params.multiplier:g}x surge, replica {params.replica} killed and restored",
        stages=tuple(stages),
        events=events,
    )


BUILDER = Builder(
    name="failover",
    params_model=FailoverParams,
    build=build_failover,
    summary="surge plus a scheduled replica kill and restore (stub admin API)",
    multiplier_param="multiplier",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    FailoverShape = shape_class_for("failover")
