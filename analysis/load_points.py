"""Load points for saturation analysis: one per steady stage, else binned 10-second windows.

A sweep run (one constant stage per load level) gives one point per stage, measured over the
stage's steady state. A run with fewer than ``MIN_STAGE_POINTS`` usable stages (a single
ramp, a surge) is cut into ``WINDOW_S`` windows whose offered load is binned into at most
``MAX_BINS`` quantile bins; each bin pools its windows' requests, so every percentile is
still exact over raw records. x is the offered load: requests/s for open loop, users for
closed loop (else the mean in-flight count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.latency import LATENCY_COLUMNS
from analysis.metrics import Grouping, Windows, group_metrics
from analysis.slo import Slo
from analysis.steady_state import StageWindow

MIN_STAGE_POINTS: Final = 3
MIN_STEADY_S: Final = 5.0
MIN_FINISHED: Final = 20
WINDOW_S: Final = 10.0
MAX_BINS: Final = 8


@dataclass(frozen=True)
class LoadPoints:
    table: pd.DataFrame
    """One row per point sorted by ``x``: ``metrics.group_metrics`` columns plus x,
    concurrency (Little's law: achieved_rps x mean E2E in s) and stable."""
    x_unit: Literal["rps", "users"]
    source: Literal["stages", "windows"]
    samples: tuple[dict[str, npt.NDArray[np.float64]], ...]
    """Per point, per SLO target key: the sorted latencies (ms) behind its percentile."""
    spans: tuple[tuple[tuple[float, float], ...], ...] = ()
    """Per point, the ``[start_s, end_s)`` intervals it covers (a steady state, or the
    10-s windows of a bin)."""


def build_load_points(
    derived: pd.DataFrame,
    good: npt.NDArray[np.bool_],
    *,
    stage_table: pd.DataFrame,
    windows: Sequence[StageWindow],
    per_second: pd.DataFrame,
    slo: Slo,
    open_loop: bool,
    users_per_s: npt.NDArray[np.float64] | None,
    itl: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None,
) -> LoadPoints:
    x_unit: Literal["rps", "users"] = "rps" if open_loop else "users"
    usable = _usable_stages(windows, stage_table["n_finished"].to_numpy())
    if len(usable) >= MIN_STAGE_POINTS:
        table = stage_table.iloc[usable].reset_index(drop=True).copy()
        chosen = [windows[i] for i in usable]
        if open_loop:
            x = table["offered_rps"].to_numpy()
        else:
            targets = [w.target_start for w in chosen]
            x = np.array([np.nan if t is None else t for t in targets], dtype=np.float64)
            x = np.where(np.isfinite(x), x, table["in_flight_mean"].to_numpy())
        stable = np.array([w.stable for w in chosen])
        edges = Windows(
            np.array([w.steady_start_s for w in chosen]),
            np.array([w.t_end_s for w in chosen]),
            tuple(w.name for w in chosen),
        )
        by_start = edges.assign(derived["t_start_s"].to_numpy())
        spans: list[tuple[tuple[float, float], ...]] = [
            ((w.steady_start_s, w.t_end_s),) for w in chosen
        ]
        source: Literal["stages", "windows"] = "stages"
    else:
        table, x, by_start, spans = _binned_points(
            derived, good, per_second=per_second, slo=slo, open_loop=open_loop,
            users_per_s=users_per_s, itl=itl,
        )  # fmt: skip
        stable = np.ones(len(table), dtype=bool)
        source = "windows"
    table["x"] = x
    table["concurrency"] = table["achieved_rps"] * table["e2e_mean_ms"] / 1000.0
    table["stable"] = stable
    samples = _samples(derived, by_start, len(table), slo, itl)
    order = np.argsort(table["x"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    return LoadPoints(
        table, x_unit, source, tuple(samples[i] for i in order), tuple(spans[i] for i in order)
    )


def _usable_stages(windows: Sequence[StageWindow], finished: npt.NDArray[np.float64]) -> list[int]:
    """Constant stages with enough steady time and requests; of several stages holding the
    same target (a sweep's warm-up and hold), only the longest is a point."""
    best: dict[object, int] = {}
    for i, w in enumerate(windows):
        if not (w.constant and w.steady_s >= MIN_STEADY_S and finished[i] >= MIN_FINISHED):
            continue
        key: object = w.target_start if w.target_start is not None else ("stage", i)
        if key not in best or w.steady_s > windows[best[key]].steady_s:
            best[key] = i
    return sorted(best.values())


def _binned_points(
    derived: pd.DataFrame,
    good: npt.NDArray[np.bool_],
    *,
    per_second: pd.DataFrame,
    slo: Slo,
    open_loop: bool,
    users_per_s: npt.NDArray[np.float64] | None,
    itl: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None,
) -> tuple[
    pd.DataFrame,
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    list[tuple[tuple[float, float], ...]],
]:
    seconds = per_second["t_start_s"].to_numpy()
    window_of_second = (seconds // WINDOW_S).astype(np.int64)
    n_windows = int(window_of_second.max()) + 1 if seconds.size else 0
    if open_loop:
        x_second = per_second["offered_rps"].to_numpy()
    elif users_per_s is not None and users_per_s.size == seconds.size:
        x_second = users_per_s
    else:
        x_second = per_second["in_flight_mean"].to_numpy()
    dur = np.bincount(window_of_second, minlength=n_windows).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_window = np.bincount(window_of_second, weights=x_second, minlength=n_windows) / dur
        flight_window = (
            np.bincount(window_of_second, per_second["in_flight_mean"], minlength=n_windows) / dur
        )
    active = per_second["n_started"].to_numpy() > 0
    has_requests = np.bincount(window_of_second, weights=active, minlength=n_windows) > 0
    valid = has_requests & np.isfinite(x_window)
    n_bins = max(1, min(MAX_BINS, int(np.unique(np.round(x_window[valid], 6)).size)))
    edges = np.quantile(x_window[valid], np.linspace(0, 1, n_bins + 1)) if valid.any() else None
    bin_of_window = np.full(n_windows, -1, dtype=np.int64)
    if edges is not None:
        inner = edges[1:-1]
        bin_of_window[valid] = np.searchsorted(inner, x_window[valid], side="right")
    used = np.unique(bin_of_window[bin_of_window >= 0])
    remap = np.full(max(n_bins, 1), -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    bin_of_window = np.where(bin_of_window >= 0, remap[np.clip(bin_of_window, 0, None)], -1)
    n_points = int(used.size)

    def bin_of(t: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        w = np.floor(t / WINDOW_S)
        inside = np.isfinite(w) & (w >= 0) & (w < n_windows)
        return np.where(inside, bin_of_window[np.where(inside, w, 0).astype(np.int64)], -1)

    weights = np.where(bin_of_window >= 0, dur, 0.0)
    bins = np.clip(bin_of_window, 0, None)
    duration = np.bincount(bins, weights=weights, minlength=n_points)[:n_points]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.bincount(bins, weights=weights * x_window, minlength=n_points)[:n_points] / duration
        flight = (
            np.bincount(bins, weights=weights * np.nan_to_num(flight_window), minlength=n_points)[
                :n_points
            ]
            / duration
        )
    by_start = bin_of(derived["t_start_s"].to_numpy())
    grouping = Grouping(
        by_start=by_start,
        by_done=bin_of(derived["t_done_s"].to_numpy()),
        labels=tuple(f"bin{i}" for i in range(n_points)),
        duration_s=np.asarray(duration, dtype=np.float64),
        in_flight_mean=np.asarray(flight, dtype=np.float64),
    )
    spans = [
        tuple(
            (float(k) * WINDOW_S, float(k + 1) * WINDOW_S)
            for k in np.flatnonzero(bin_of_window == b).tolist()
        )
        for b in range(n_points)
    ]
    return group_metrics(derived, grouping, slo, good, itl=itl), x, by_start, spans


def _samples(
    derived: pd.DataFrame,
    by_start: npt.NDArray[np.int64],
    n_points: int,
    slo: Slo,
    itl: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None,
) -> list[dict[str, npt.NDArray[np.float64]]]:
    out: list[dict[str, npt.NDArray[np.float64]]] = [{} for _ in range(n_points)]
    for target in slo.targets:
        if target.metric == "itl":
            if itl is None:
                continue
            values, groups = itl[0] * 1000.0, by_start[itl[1]]
        else:
            values = derived[LATENCY_COLUMNS[target.metric]].to_numpy()
            groups = by_start
        keep = (groups >= 0) & np.isfinite(values)
        v, g = values[keep], groups[keep]
        order = np.lexsort((v, g))
        bounds = np.searchsorted(g[order], np.arange(n_points + 1))
        for k in range(n_points):
            out[k][target.key] = v[order][bounds[k] : bounds[k + 1]]
    return out
