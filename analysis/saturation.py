"""Saturation: where the SLO breaks, where throughput stops following load, and the USL fit.

- SLO crossing: for each SLO target, the ratio value / threshold at each load point is
  interpolated in x with monotone PCHIP (shape preserving: it never overshoots the data, so
  the first crossing lies just before the first violating point); the crossing x* is the
  earliest over all targets (the error fraction is one of them). The maximum sustainable
  load is the highest achieved throughput at any x <= x*, which makes it monotone in the SLO:
  a looser SLO never lowers it.
- Knee: the first x where achieved / offered falls below ``KNEE_RATIO`` (open loop); for
  closed loop, "offered" is the per-user throughput of the lightest point times the users.
- Bootstrap CI of the maximum sustainable load: every point's percentiles, error fraction
  and throughput are resampled (``analysis.stats``) and the crossing recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from analysis.load_points import LoadPoints
from analysis.metrics import percentile_column
from analysis.pchip import pchip_at, pchip_slopes, segment_root
from analysis.slo import Slo
from analysis.stats import (
    Interval,
    percentile_interval,
    resample_count,
    resample_fraction,
    resample_quantile,
)
from analysis.usl import MIN_POINTS, UslFit, fit_usl

KNEE_RATIO: Final = 0.95
ERROR_TARGET: Final = "error_frac"
Status = Literal["crossed", "not_reached", "below_lowest", "no_points"]


@dataclass(frozen=True, slots=True)
class Crossing:
    status: Status
    x: float | None
    """Offered load at the first SLO crossing (None unless ``status == "crossed"``)."""
    target: str | None
    """The SLO target that crossed first."""
    capacity_rps: float


@dataclass(frozen=True)
class Saturation:
    points: LoadPoints
    crossing: Crossing
    max_sustainable: Interval
    """Max sustainable throughput (req/s) with its bootstrap interval."""
    knee_x: float | None
    knee_rps: float | None
    usl: UslFit | None
    usl_note: str


def find_crossing(
    x: npt.NDArray[np.float64],
    achieved_rps: npt.NDArray[np.float64],
    ratios: npt.NDArray[np.float64],
    names: tuple[str, ...],
) -> Crossing:
    """``ratios[i, j]`` = value / threshold of target ``names[j]`` at point i (x ascending)."""
    if x.size == 0:
        return Crossing("no_points", None, None, 0.0)
    best_x, best_target = math.inf, None
    for j, name in enumerate(names):
        r = ratios[:, j]
        ok = np.isfinite(r) & np.isfinite(x)
        xs, rs = _distinct(x[ok], r[ok])
        if xs.size == 0:
            continue
        bad = np.flatnonzero(rs > 1.0)
        if bad.size == 0:
            continue
        i = int(bad[0])
        if i == 0:
            return Crossing("below_lowest", None, name, 0.0)
        crossing = _root(xs, rs, i)
        if crossing < best_x:
            best_x, best_target = crossing, name
    if best_target is None:
        return Crossing("not_reached", None, None, float(np.nanmax(achieved_rps)))
    return Crossing("crossed", best_x, best_target, _capacity(x, achieved_rps, best_x))


def _distinct(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Interpolation needs strictly increasing x: points at the same x keep their mean."""
    if x.size < 2 or bool(np.all(np.diff(x) > 0)):
        return x, y
    ux, inverse = np.unique(x, return_inverse=True)
    return ux, np.bincount(inverse, weights=y) / np.bincount(inverse)


def _root(xs: npt.NDArray[np.float64], rs: npt.NDArray[np.float64], i: int) -> float:
    return segment_root(xs, rs, i, 1.0)


def _capacity(
    x: npt.NDArray[np.float64], achieved: npt.NDArray[np.float64], x_star: float
) -> float:
    ok = np.isfinite(achieved) & np.isfinite(x)
    xs, ys = _distinct(x[ok], achieved[ok])
    if xs.size == 0:
        return 0.0
    below = ys[xs <= x_star]
    at_star = pchip_at(xs, ys, pchip_slopes(xs, ys), x_star) if xs.size >= 2 else float(ys[0])
    return float(max([at_star, *below.tolist()]))


def find_knee(
    x: npt.NDArray[np.float64], achieved_rps: npt.NDArray[np.float64], open_loop: bool
) -> tuple[float | None, float | None]:
    """(x, achieved req/s) where achieved / offered first falls below ``KNEE_RATIO``."""
    ok = np.isfinite(x) & np.isfinite(achieved_rps) & (x > 0)
    xs, ys = x[ok], achieved_rps[ok]
    if xs.size < 2:
        return None, None
    offered = xs if open_loop else xs * (ys[0] / xs[0])
    ratio = ys / offered
    below = np.flatnonzero(ratio < KNEE_RATIO)
    if below.size == 0 or below[0] == 0:
        return None, None
    i = int(below[0])
    frac = (ratio[i - 1] - KNEE_RATIO) / (ratio[i - 1] - ratio[i])
    knee_x = float(xs[i - 1] + frac * (xs[i] - xs[i - 1]))
    knee_rps = float(ys[i - 1] + frac * (ys[i] - ys[i - 1]))
    return knee_x, knee_rps


def target_ratios(points: LoadPoints, slo: Slo) -> tuple[npt.NDArray[np.float64], tuple[str, ...]]:
    """Value / threshold per point and target (the error fraction last)."""
    table = points.table
    columns, names = [], []
    for target in slo.targets:
        column = percentile_column(target.metric, target.quantile_pct)
        if column in table:
            columns.append(table[column].to_numpy() / target.threshold_ms)
            names.append(target.key)
    columns.append(_error_ratio(table["error_frac"].to_numpy(), slo.error_max_frac))
    names.append(ERROR_TARGET)
    return np.column_stack(columns), tuple(names)


def _error_ratio(error_frac: npt.NDArray[np.float64], max_frac: float) -> npt.NDArray[np.float64]:
    if max_frac > 0:
        return error_frac / max_frac
    return np.where(error_frac > 0, np.inf, 0.0)


def analyse_saturation(
    points: LoadPoints,
    slo: Slo,
    rng: np.random.Generator,
    *,
    open_loop: bool,
    n_boot: int = 500,
) -> Saturation:
    table = points.table
    x = table["x"].to_numpy(dtype=np.float64)
    achieved = table["achieved_rps"].to_numpy(dtype=np.float64)
    ratios, names = target_ratios(points, slo)
    crossing = find_crossing(x, achieved, ratios, names)
    replicates = _bootstrap(points, slo, rng, n_boot, names)
    interval = percentile_interval(crossing.capacity_rps, replicates)
    knee_x, knee_rps = find_knee(x, achieved, open_loop)
    usl, note = _usl(table["concurrency"].to_numpy(), achieved)
    return Saturation(points, crossing, interval, knee_x, knee_rps, usl, note)


def _usl(
    concurrency: npt.NDArray[np.float64], achieved: npt.NDArray[np.float64]
) -> tuple[UslFit | None, str]:
    try:
        fit = fit_usl(concurrency, achieved)
    except ValueError as exc:
        return None, str(exc)
    return fit, f"fitted on {fit.n_points} load points (R^2 = {fit.r2:.3f})"


def _bootstrap(
    points: LoadPoints, slo: Slo, rng: np.random.Generator, n_boot: int, names: tuple[str, ...]
) -> npt.NDArray[np.float64]:
    table = points.table
    n_points = len(table)
    if n_points == 0 or n_boot <= 0:
        return np.empty(0)
    x = table["x"].to_numpy(dtype=np.float64)
    duration = table["duration_s"].to_numpy(dtype=np.float64)
    completions = table["achieved_rps"].to_numpy(dtype=np.float64) * duration
    finished = table["n_finished"].to_numpy(dtype=np.int64)
    failed = np.rint(table["error_frac"].fillna(0).to_numpy() * finished).astype(np.int64)
    sampled = np.full((n_boot, n_points, len(names)), np.nan)
    achieved = np.empty((n_boot, n_points))
    for i in range(n_points):
        for target in slo.targets:
            if target.key in names and target.key in points.samples[i]:
                values = points.samples[i][target.key]
                k = names.index(target.key)
                sampled[:, i, k] = resample_quantile(values, target.quantile_pct, rng, n_boot)
                sampled[:, i, k] /= target.threshold_ms
        errors = resample_fraction(int(failed[i]), int(finished[i]), rng, n_boot)
        sampled[:, i, -1] = _error_ratio(errors, slo.error_max_frac)
        with np.errstate(divide="ignore", invalid="ignore"):
            achieved[:, i] = resample_count(completions[i], rng, n_boot) / duration[i]
    return np.array(
        [find_crossing(x, achieved[b], sampled[b], names).capacity_rps for b in range(n_boot)]
    )


__all__ = ["MIN_POINTS", "Crossing", "Saturation", "analyse_saturation", "find_crossing"]
