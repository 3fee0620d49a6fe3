"""``summary.json``: the versioned, machine-readable result of a run (for CI and notebooks).

Schema version 1. Latencies in ms, rates in req/s (``_rps``) or tokens/s (``_tps``),
fractions in [0, 1] (``_frac``), times in seconds since the run's t0 (``_s``). Fields that
cannot be computed are null. ``SummaryV1.model_json_schema()`` gives the JSON Schema.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from analysis.pipeline import RunAnalysis

SUMMARY_SCHEMA_VERSION: Final = 1
STAGE_FIELDS: Final = (
    "label", "t_start_s", "t_end_s", "warmup_s", "constant", "stable", "n_finished",
    "offered_rps", "achieved_rps", "output_tps", "goodput_rps", "in_flight_mean",
    "error_frac", "failed_frac", "shed_frac", "dropped_frac", "abandoned_frac",
    "slo_attainment_frac", "slo_met",
)  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValiditySummary(_Model):
    valid: bool
    client_limited: bool
    reasons: list[str]
    warnings: list[str]
    missing: list[str]


class UslSummary(_Model):
    alpha: float
    beta: float
    gamma: float
    n_max: float | None
    x_max_rps: float | None
    r2: float
    n_points: int


class SaturationSummary(_Model):
    status: str
    x_unit: str
    points_from: str
    slo_crossing_x: float | None
    first_broken_target: str | None
    max_sustainable_rps: float | None
    ci_low_rps: float | None
    ci_high_rps: float | None
    ci_level: float
    knee_x: float | None
    knee_rps: float | None
    usl: UslSummary | None
    usl_note: str
    limiter: str | None
    limiter_evidence: str | None


class CountRange(_Model):
    value: int
    low: int
    high: int


class CapacitySummary(_Model):
    peak_rps: float
    per_replica_rps: float
    per_replica_ci_rps: list[float]
    utilisation_frac: float
    headroom_multiplier: float
    scaling_efficiency_frac: float
    scaling_source: str
    replicas_normal: CountRange
    replicas_surge: CountRange
    replicas_n_plus_1: CountRange
    replicas_erlang_c: int | None
    gpus: CountRange
    cost_per_hour: float | None
    cost_per_hour_range: list[float] | None
    caveats: list[str]
    note: str


class SurgeSummary(_Model):
    label: str
    kind: str
    t_onset_s: float
    t_horizon_end_s: float
    onset_to_violation_s: float | None
    violation_s: float
    time_to_recover_s: float | None
    recovered: bool
    baseline_in_flight: float
    peak_in_flight: float
    drain_s: float | None
    requests: int
    failed: int
    shed: int
    dropped: int
    abandoned: int
    not_good: int
    burn_rate: float


class SummaryV1(_Model):
    schema_version: Literal[1] = 1
    run_id: str
    source: str
    verdict: Literal["pass", "fail", "invalid"]
    slo: dict[str, float]
    slo_source: str
    open_loop: bool
    validity: ValiditySummary
    overall: dict[str, Any]
    stages: list[dict[str, Any]]
    saturation: SaturationSummary | None
    capacity: CapacitySummary | None
    capacity_note: str
    surges: list[SurgeSummary]
    status_window_s: float


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf and pandas NA become null, numpy scalars plain Python."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _row(row: pd.Series, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = fields or tuple(str(c) for c in row.index)
    return {name: _clean(row[name]) for name in names if name in row.index}


def build_summary(analysis: RunAnalysis) -> SummaryV1:
    stage_fields = tuple(STAGE_FIELDS) + tuple(
        c for c in analysis.stage_table.columns if str(c).endswith("_ms")
    )
    stages = [_row(r, stage_fields) for _, r in analysis.stage_table.iterrows()]
    overall = _row(analysis.overall.iloc[0]) if len(analysis.overall) else {}
    v = analysis.validity
    return SummaryV1(
        run_id=analysis.run.manifest.run_id,
        source=analysis.run.source,
        verdict=analysis.verdict,
        slo=analysis.slo.to_dict(),
        slo_source=analysis.slo_source,
        open_loop=analysis.open_loop,
        validity=ValiditySummary(
            valid=v.valid,
            client_limited=v.client_limited,
            reasons=list(v.reasons),
            warnings=list(v.warnings),
            missing=list(v.missing),
        ),
        overall=overall,
        stages=stages,
        saturation=_saturation(analysis),
        capacity=_capacity(analysis),
        capacity_note=analysis.capacity_note,
        surges=[
            SurgeSummary(**{k: _clean(x) for k, x in asdict(s).items()}) for s in analysis.surges
        ],
        status_window_s=analysis.status_window_s,
    )


def _saturation(analysis: RunAnalysis) -> SaturationSummary | None:
    sat = analysis.saturation
    if sat is None:
        return None
    usl = None
    if sat.usl is not None:
        u = sat.usl
        usl = UslSummary(
            alpha=u.alpha, beta=u.beta, gamma=u.gamma, n_max=_clean(u.n_max),
            x_max_rps=_clean(u.x_max_rps), r2=u.r2, n_points=u.n_points,
        )  # fmt: skip
    ms = sat.max_sustainable
    limiter = analysis.limiter
    return SaturationSummary(
        status=sat.crossing.status,
        x_unit=sat.points.x_unit,
        points_from=sat.points.source,
        slo_crossing_x=_clean(sat.crossing.x),
        first_broken_target=sat.crossing.target,
        max_sustainable_rps=_clean(ms.estimate),
        ci_low_rps=_clean(ms.low),
        ci_high_rps=_clean(ms.high),
        ci_level=ms.level,
        knee_x=_clean(sat.knee_x),
        knee_rps=_clean(sat.knee_rps),
        usl=usl,
        usl_note=sat.usl_note,
        limiter=limiter.name if limiter else None,
        limiter_evidence=limiter.evidence if limiter else None,
    )


def _capacity(analysis: RunAnalysis) -> CapacitySummary | None:
    plan = analysis.capacity
    if plan is None:
        return None

    def rng(c: Any) -> CountRange:
        return CountRange(value=c.value, low=c.low, high=c.high)

    pr = plan.per_replica_rps
    return CapacitySummary(
        peak_rps=plan.inputs.peak_rps,
        per_replica_rps=pr.estimate,
        per_replica_ci_rps=[_clean(pr.low) or 0.0, _clean(pr.high) or 0.0],
        utilisation_frac=plan.inputs.utilisation_frac,
        headroom_multiplier=plan.headroom_multiplier,
        scaling_efficiency_frac=plan.scaling.efficiency_frac,
        scaling_source=plan.scaling.source,
        replicas_normal=rng(plan.replicas_normal),
        replicas_surge=rng(plan.replicas_surge),
        replicas_n_plus_1=rng(plan.replicas_n_plus_1),
        replicas_erlang_c=plan.replicas_erlang_c,
        gpus=rng(plan.gpus),
        cost_per_hour=plan.cost_per_hour[0] if plan.cost_per_hour else None,
        cost_per_hour_range=list(plan.cost_per_hour[1:]) if plan.cost_per_hour else None,
        caveats=list(plan.caveats),
        note=analysis.capacity_note,
    )
