"""From a loaded run to every figure the report and summary need (pure: no I/O).

``analyse(run, options)`` is the one call a notebook needs after ``io.load_run``; each step
is also a public function of its own module (docs/analysis.md lists them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.capacity import CapacityInputs, CapacityPlan, Scaling, plan_capacity
from analysis.io import ItlSamples, RunData
from analysis.latency import derive_requests, good_requests, ok_itl_s
from analysis.load_points import build_load_points
from analysis.metrics import InFlight, Windows, violated, window_metrics
from analysis.replicas import (
    ReplicaCount,
    at_capacity,
    per_point_ready,
    ready_replicas,
    resolve_replicas,
)
from analysis.saturation import Saturation, analyse_saturation
from analysis.server_metrics import Limiter, name_limiter, server_series
from analysis.slo import DEFAULT_SLO, Slo, slo_from_mapping
from analysis.stats import Interval
from analysis.steady_state import StageWindow, stage_windows, stages_from_records
from analysis.surge import SurgeResult, analyse_surges, find_onsets, status_window_s
from analysis.validity import Validity, Verdict, assess_validity, verdict_of

log = logging.getLogger(__name__)
STOP_MARGIN_S = 1.0


@dataclass(frozen=True)
class AnalysisOptions:
    slo: Slo | None = None
    """None: the manifest's SLO, else ``slo.DEFAULT_SLO``."""
    peak_rps: float | None = None
    """Normal peak for the capacity plan; None: the run's highest offered req/s."""
    capacity: CapacityInputs | None = None
    """Everything else of the plan (``peak_rps`` in it is replaced by the one above)."""
    scaling: Scaling | None = None
    replicas_in_run: int | None = None
    """Replicas behind the target; None: ready replicas from the server metrics, else
    ``stub_config.replicas``, else 1 (``analysis.replicas``)."""
    seed: int = 0
    n_boot: int = 500
    recover_window_s: float = 30.0
    availability_target_frac: float = 0.999
    min_samples: int = 100


@dataclass(frozen=True)
class RunAnalysis:
    run: RunData
    options: AnalysisOptions
    slo: Slo
    slo_source: str
    open_loop: bool
    derived: pd.DataFrame
    good: npt.NDArray[np.bool_]
    per_second: pd.DataFrame
    """Per second: ``metrics.window_columns(slo, False, (ttft, tpot, e2e[, ttft_intended]))``
    (Locust CSV runs: its history instead)."""
    stages: tuple[StageWindow, ...]
    stage_table: pd.DataFrame
    """Steady-state metrics per stage (``window_columns``) plus warmup_s, constant, stable."""
    overall: pd.DataFrame
    """One row: the whole run, untrimmed."""
    server: pd.DataFrame | None
    saturation: Saturation | None
    limiter: Limiter | None
    status: pd.DataFrame
    status_window_s: float
    surges: tuple[SurgeResult, ...]
    capacity: CapacityPlan | None
    capacity_note: str
    validity: Validity
    verdict: Verdict
    notes: tuple[str, ...] = field(default=())


def resolve_slo(run: RunData, override: Slo | None) -> tuple[Slo, str]:
    if override is not None:
        return override, "options"
    if run.manifest.slo:
        return slo_from_mapping(run.manifest.slo), "manifest"
    return DEFAULT_SLO, "default"


def drop_stopped(run: RunData) -> tuple[RunData, int]:
    """Remove requests aborted because the run stopped (error_kind "aborted", done within
    ``STOP_MARGIN_S`` of the last stage's end or later): they were cut by the load generator's
    stop, not failed by the target, and would otherwise inflate the last stage's errors."""
    if not run.manifest.stages or run.requests.empty:
        return run, 0
    end_s = max(s.t_end_s for s in run.manifest.stages)
    frame = run.requests
    stopped = (frame["error_kind"].astype(object) == "aborted").to_numpy() & (
        frame["t_done_s"].to_numpy() >= end_s - STOP_MARGIN_S
    )
    if not stopped.any():
        return run, 0
    keep = ~stopped
    new_index = np.cumsum(keep) - 1
    itl_keep = keep[run.itl.record_index]
    itl = ItlSamples(
        run.itl.values_s[itl_keep],
        new_index[run.itl.record_index[itl_keep]],
        run.itl.counts[keep],
    )
    trimmed = replace(run, requests=frame[keep].reset_index(drop=True), itl=itl)
    return trimmed, int(stopped.sum())


def analyse(run: RunData, options: AnalysisOptions | None = None) -> RunAnalysis:
    options = options or AnalysisOptions()
    run, n_stopped = drop_stopped(run)
    notes: list[str] = []
    if n_stopped:
        notes.append(f"{n_stopped} request(s) aborted by the end of the run excluded")
    slo, slo_source = resolve_slo(run, options.slo)
    rng = np.random.default_rng(options.seed)
    derived = derive_requests(run.requests)
    good = good_requests(derived, slo)
    itl = ok_itl_s(run.itl, derived)
    open_loop = _open_loop(run, derived)
    end_s = _end_s(run, derived)
    seconds = Windows.seconds(end_s)
    # Per second only what the figures draw (and the SLO's metrics): each metric is a sort.
    shown = ("ttft", "tpot", "e2e", *(("ttft_intended",) if open_loop else ()))
    in_flight = InFlight.of(derived)
    per_second = window_metrics(derived, seconds, slo, good, metrics=shown, in_flight=in_flight)
    server = server_series(run.server_metrics) if run.server_metrics is not None else None
    if run.source == "locust_csv":
        per_second = _locust_per_second(run)
    specs = list(run.manifest.stages) or stages_from_records(
        run.requests["stage"], derived["t_start_s"].to_numpy(), derived["t_done_s"].to_numpy()
    )
    flight = per_second["in_flight_mean"].to_numpy() if "in_flight_mean" in per_second else None
    stages = stage_windows(specs, flight if flight is not None else np.zeros(0))
    steady = Windows(
        np.array([w.steady_start_s for w in stages]),
        np.array([w.t_end_s for w in stages]),
        tuple(w.name for w in stages),
    )
    stage_table = window_metrics(derived, steady, slo, good, itl=itl, in_flight=in_flight)
    stage_table["warmup_s"] = [w.warmup_s for w in stages]
    stage_table["constant"] = [w.constant for w in stages]
    stage_table["stable"] = [w.stable for w in stages]
    whole = Windows(np.array([0.0]), np.array([max(end_s, 1e-9)]), ("run",))
    # No ITL percentiles for the whole run: tens of millions of values for a number the
    # per-stage rows already give (and the run's verdict is judged per stage).
    overall = window_metrics(derived, whole, slo, good, in_flight=in_flight)
    validity = assess_validity(run, stage_table, slo, options.min_samples, notes)
    verdict = verdict_of(validity, bool(violated(stage_table["slo_met"]).any()))

    saturation = limiter = None
    capacity, capacity_note = None, "no per-request records"
    if run.source == "records" and len(derived):
        users = _users_per_s(run, len(per_second))
        points = build_load_points(
            derived, good, stage_table=stage_table, windows=stages, per_second=per_second,
            slo=slo, open_loop=open_loop, users_per_s=users, itl=itl,
        )  # fmt: skip
        saturation = analyse_saturation(
            points, slo, rng, open_loop=open_loop, n_boot=options.n_boot
        )
        limiter = _limiter(saturation, stages, server, slo, run.manifest.stub_config)
        capacity, capacity_note = _capacity(saturation, run, options)
    window_s = status_window_s(per_second["n_started"].to_numpy()) if len(derived) else 1.0
    status_windows = Windows(*_status_edges(end_s, window_s))
    status = window_metrics(derived, status_windows, slo, good, metrics=(), in_flight=in_flight)
    onsets = find_onsets(stages, run.events)
    surges = analyse_surges(
        onsets, status, per_second, derived, good, run_end_s=end_s,
        recover_window_s=options.recover_window_s,
        availability_target_frac=options.availability_target_frac,
    ) if len(derived) else ()  # fmt: skip
    return RunAnalysis(
        run, options, slo, slo_source, open_loop, derived, good, per_second, stages,
        stage_table, overall, server, saturation, limiter, status, window_s, surges,
        capacity, capacity_note, validity, verdict, tuple(notes),
    )  # fmt: skip


def _open_loop(run: RunData, derived: pd.DataFrame) -> bool:
    declared = run.manifest.open_loop
    if declared is not None:
        return declared
    intended = run.requests["t_intended_s"].to_numpy()
    return bool(intended.size and np.isfinite(intended).mean() > 0.5)


def _end_s(run: RunData, derived: pd.DataFrame) -> float:
    ends = [float(s.t_end_s) for s in run.manifest.stages]
    done = derived["t_done_s"].to_numpy()
    if done.size and np.isfinite(done).any():
        ends.append(float(np.nanmax(done)))
    if run.locust_history is not None and run.source == "locust_csv":
        ends.append(float(run.locust_history["t_s"].max()) + 1.0)
    return max(ends) if ends else 1.0


def _status_edges(end_s: float, window_s: float) -> tuple[Any, Any, tuple[str, ...]]:
    starts = np.arange(0.0, max(end_s, window_s), window_s)
    return starts, starts + window_s, tuple(f"{s:g}" for s in starts)


def _users_per_s(run: RunData, n_seconds: int) -> npt.NDArray[np.float64] | None:
    offered = run.offered
    if offered is None or offered.empty:
        return None
    column = "actual_users" if offered["actual_users"].notna().any() else "target_users"
    if not offered[column].notna().any():
        return None
    second = np.floor(offered["t_s"].to_numpy()).astype(np.int64)
    keep = (second >= 0) & (second < n_seconds) & offered[column].notna().to_numpy()
    out = np.full(n_seconds, np.nan)
    out[second[keep]] = offered[column].to_numpy()[keep]
    return np.asarray(pd.Series(out).ffill().bfill().to_numpy(), dtype=np.float64)


def _limiter(
    saturation: Saturation,
    stages: tuple[StageWindow, ...],
    server: pd.DataFrame | None,
    slo: Slo,
    stub_config: dict[str, Any] | None,
) -> Limiter | None:
    table = saturation.points.table
    if server is None or table.empty:
        return None
    violating = np.flatnonzero(violated(table["slo_met"]))
    row = table.iloc[int(violating[0]) if violating.size else len(table) - 1]
    label = str(row["label"])
    window = next((w for w in stages if w.name == label), None)
    t0, t1 = (window.steady_start_s, window.t_end_s) if window else (0.0, float("inf"))
    error_breaks = bool(row["error_frac"] > slo.error_max_frac)
    return name_limiter(server, t0, t1, error_breaks_slo=error_breaks, stub_config=stub_config)


def _capacity(
    saturation: Saturation, run: RunData, options: AnalysisOptions
) -> tuple[CapacityPlan | None, str]:
    count = _replicas(saturation, run, options)
    replicas = count.replicas
    interval = saturation.max_sustainable
    if interval.estimate <= 0:
        return None, "the SLO is broken at the lowest tested load: no per-replica capacity"
    per_replica = Interval(
        interval.estimate / replicas, interval.low / replicas, interval.high / replicas,
        interval.level,
    )  # fmt: skip
    peak = options.peak_rps
    note = "peak given"
    if peak is None:
        table = saturation.points.table
        peak = float(np.nanmax(table["offered_rps"].to_numpy(), initial=0.0))
        note = "peak = the run's highest steady offered req/s (give --peak-rps for your traffic)"
    base = options.capacity or CapacityInputs(peak_rps=peak)
    inputs = replace(base, peak_rps=peak)
    try:
        plan = plan_capacity(per_replica, inputs, options.scaling)
    except ValueError as exc:
        return None, str(exc)
    return replace(plan, caveats=(*plan.caveats, count.source)), note


def _replicas(saturation: Saturation, run: RunData, options: AnalysisOptions) -> ReplicaCount:
    measured = None
    ready = ready_replicas(run.server_metrics)
    points = saturation.points
    if ready is not None and points.spans:
        table = points.table
        measured = at_capacity(
            table["x"].to_numpy(dtype=np.float64),
            table["achieved_rps"].to_numpy(dtype=np.float64),
            per_point_ready(ready, points.spans),
            saturation.crossing.x if saturation.crossing.status == "crossed" else None,
        )
    stub = run.manifest.stub_config or {}
    return resolve_replicas(
        options.replicas_in_run, measured, stub.get("replicas"), run.stub_config_source
    )


def _locust_per_second(run: RunData) -> pd.DataFrame:
    history = run.locust_history
    assert history is not None
    t = history["t_s"].to_numpy()
    return pd.DataFrame(
        {
            "t_start_s": t,
            "t_end_s": t + 1.0,
            "achieved_rps": history["completed_rps"].to_numpy(),
            "failed_rps": history["failed_rps"].to_numpy(),
            "users": history["users"].to_numpy(),
            "response_p50_ms": history["response_p50_ms"].to_numpy(),
            "response_p95_ms": history["response_p95_ms"].to_numpy(),
            "response_p99_ms": history["response_p99_ms"].to_numpy(),
            "n_started": np.zeros(len(history)),
        }
    )
