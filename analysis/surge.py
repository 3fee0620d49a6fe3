"""Surge and fault analysis: what happened after each onset, until the next one or the end.

Onsets are stage starts whose target jumps to at least ``SURGE_RATIO`` x the previous
stage's, ramps that grow by that much, and every event in ``events.jsonl`` (faults, replica
kills, config changes). The SLO is judged on consecutive status windows of ``window_s``
seconds (chosen so that a window holds about 50 requests: 1-10 s); per onset:
- onset -> first violation: start of the first violating window minus the onset (>= 0);
- violation duration: the total length of violating windows in the horizon;
- time to recover: from the first violation to the start of the first run of windows all
  meeting the SLO for ``recover_window_s`` (windows without requests do not break a run);
- backlog: in-flight requests per second; baseline = median over the 30 s before the onset,
  drain time = from the peak until in-flight is back within 10% (+1) of the baseline;
- failed / shed / dropped / abandoned requests in the horizon, and the error-budget burn
  rate: (requests not good / requests) / (1 - availability target). A request belongs to
  the horizon it started in, except a request that did not succeed, which belongs to the
  one it ended in: requests cut by a replica kill count against the kill, not against
  the surge that was on when they started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.latency import ABANDONED, DROPPED, FAILED, OK, SHED
from analysis.metrics import violated as violated_rows
from analysis.steady_state import StageWindow

SURGE_RATIO: Final = 1.5
BASELINE_S: Final = 30.0
DRAIN_TOL_FRAC: Final = 0.1


@dataclass(frozen=True, slots=True)
class Onset:
    t_s: float
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class SurgeResult:
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


def find_onsets(stages: Sequence[StageWindow], events: pd.DataFrame | None) -> list[Onset]:
    onsets: list[Onset] = []
    previous: float | None = None
    for stage in stages:
        start, end = stage.target_start, stage.target_end
        if start is not None and previous and start >= SURGE_RATIO * previous:
            onsets.append(Onset(stage.t_start_s, "surge", stage.name))
        ramps = start is not None and end is not None and start > 0 and end >= SURGE_RATIO * start
        if ramps and (not onsets or onsets[-1].t_s != stage.t_start_s):
            onsets.append(Onset(stage.t_start_s, "surge_ramp", stage.name))
        previous = end if end is not None else start
    if events is not None:
        for t_s, kind, target in zip(events["t_s"], events["kind"], events["target"], strict=True):
            label = f"{kind} {target or ''}".strip()
            onsets.append(Onset(float(t_s), str(kind), label))
    onsets.sort(key=lambda o: o.t_s)
    return onsets


def status_window_s(started_per_s: npt.NDArray[np.float64]) -> float:
    """Window length giving about 50 requests per window at the run's median rate (1-10 s)."""
    busy = started_per_s[started_per_s > 0]
    rate = float(np.median(busy)) if busy.size else 1.0
    return float(np.clip(np.ceil(50.0 / max(rate, 1e-9)), 1.0, 10.0))


def analyse_surges(
    onsets: Sequence[Onset],
    status: pd.DataFrame,
    per_second: pd.DataFrame,
    derived: pd.DataFrame,
    good: npt.NDArray[np.bool_],
    *,
    run_end_s: float,
    recover_window_s: float = 30.0,
    availability_target_frac: float = 0.999,
) -> tuple[SurgeResult, ...]:
    """``status``: window table (t_start_s, t_end_s, slo_met) on status windows."""
    t_attr = attribution_times_s(derived)
    results = []
    for i, onset in enumerate(onsets):
        end = onsets[i + 1].t_s if i + 1 < len(onsets) else run_end_s
        end = max(end, onset.t_s)
        results.append(
            _one(onset, end, status=status, per_second=per_second, derived=derived, good=good,
                 t_attr=t_attr, recover_window_s=recover_window_s,
                 target_frac=availability_target_frac)
        )  # fmt: skip
    return tuple(results)


def _one(
    onset: Onset,
    end: float,
    *,
    status: pd.DataFrame,
    per_second: pd.DataFrame,
    derived: pd.DataFrame,
    good: npt.NDArray[np.bool_],
    t_attr: npt.NDArray[np.float64],
    recover_window_s: float,
    target_frac: float,
) -> SurgeResult:
    w_start = status["t_start_s"].to_numpy()
    w_end = status["t_end_s"].to_numpy()
    inside = (w_end > onset.t_s) & (w_start < end)
    starts, ends = w_start[inside], w_end[inside]
    violated = violated_rows(status["slo_met"])[inside]
    first = int(np.argmax(violated)) if violated.any() else None
    onset_to_violation = None if first is None else max(float(starts[first]) - onset.t_s, 0.0)
    violation_s = float(np.sum((ends - starts)[violated]))
    recover = None
    if first is not None:
        recover = _recovery(starts[first:], ends[first:], violated[first:], recover_window_s)
    t_first = None if first is None else float(starts[first])
    time_to_recover = None if recover is None or t_first is None else recover - t_first

    seconds = per_second["t_start_s"].to_numpy()
    flight = per_second["in_flight_mean"].to_numpy()
    before = (seconds >= onset.t_s - BASELINE_S) & (seconds < onset.t_s)
    baseline = float(np.median(flight[before])) if before.any() else 0.0
    span = (seconds >= onset.t_s) & (seconds < end)
    peak, drain = baseline, None
    if span.any():
        f, s = flight[span], seconds[span]
        k = int(np.nanargmax(f))
        peak = float(f[k])
        back = np.flatnonzero(f[k:] <= baseline * (1 + DRAIN_TOL_FRAC) + 1.0)
        drain = float(s[k + back[0]] - s[k]) if back.size else None

    sel = (t_attr >= onset.t_s) & (t_attr < end)
    outcome = derived["outcome"].to_numpy()[sel]
    total = int(sel.sum())
    not_good = int(total - good[sel].sum())
    burn = (not_good / total) / (1.0 - target_frac) if total and target_frac < 1 else 0.0
    return SurgeResult(
        label=onset.label,
        kind=onset.kind,
        t_onset_s=onset.t_s,
        t_horizon_end_s=end,
        onset_to_violation_s=onset_to_violation,
        violation_s=violation_s,
        time_to_recover_s=time_to_recover,
        recovered=first is None or recover is not None,
        baseline_in_flight=baseline,
        peak_in_flight=peak,
        drain_s=drain,
        requests=total,
        failed=int(np.sum(outcome == FAILED)),
        shed=int(np.sum(outcome == SHED)),
        dropped=int(np.sum(outcome == DROPPED)),
        abandoned=int(np.sum(outcome == ABANDONED)),
        not_good=not_good,
        burn_rate=float(burn),
    )


def attribution_times_s(derived: pd.DataFrame) -> npt.NDArray[np.float64]:
    """When each request counts for the onsets: its start, or for a request that did not
    succeed the time it ended (failed, shed, dropped or abandoned then)."""
    start = derived["t_start_s"].to_numpy(dtype=np.float64)
    done = derived["t_done_s"].to_numpy(dtype=np.float64)
    failed = (derived["outcome"].to_numpy() != OK) & np.isfinite(done)
    return np.where(failed, done, start)


def _recovery(
    starts: npt.NDArray[np.float64],
    ends: npt.NDArray[np.float64],
    violated: npt.NDArray[np.bool_],
    window_s: float,
) -> float | None:
    """Start of the first run of non-violating windows lasting ``window_s``, else None."""
    run_start: float | None = None
    for s, e, bad in zip(starts, ends, violated, strict=True):
        if bad:
            run_start = None
            continue
        if run_start is None:
            run_start = float(s)
        if float(e) - run_start >= window_s - 1e-9:
            return run_start
    return None
