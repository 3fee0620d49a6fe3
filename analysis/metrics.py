"""Per-window metrics (per second, per stage, whole run) from derived request columns.

Which time places a request in a window (docs/analysis.md, "Metric definitions"):
- by start (``t_start_s``: intended for open loop, else sent): offered load, latency
  percentiles, error/shed/dropped/abandoned fractions and SLO attainment;
- by completion (``t_done_s``): achieved requests/s, output tokens/s and goodput;
- in-flight concurrency: the exact time-average over the window of the number of requests
  between ``t_sent_s`` and ``t_done_s``.
Columns of the returned table are listed in ``window_columns``; latencies in ms, rates per s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.latency import ABANDONED, DROPPED, FAILED, LATENCY_COLUMNS, OK, SHED
from analysis.percentiles import QUANTILES_PCT, grouped_percentiles
from analysis.slo import Slo

PERCENTILE_METRICS: Final = (*LATENCY_COLUMNS, "itl")
_OUTCOME_FRACS: Final = {
    "failed_frac": FAILED,
    "shed_frac": SHED,
    "dropped_frac": DROPPED,
    "abandoned_frac": ABANDONED,
}


@dataclass(frozen=True)
class Windows:
    """Non-overlapping ``[start_s, end_s)`` intervals sorted by start, each with a label."""

    start_s: npt.NDArray[np.float64]
    end_s: npt.NDArray[np.float64]
    labels: tuple[str, ...]

    @classmethod
    def seconds(cls, t_end_s: float, t_start_s: float = 0.0) -> Windows:
        starts = np.arange(np.floor(t_start_s), np.ceil(max(t_end_s, t_start_s + 1)), 1.0)
        return cls(starts, starts + 1.0, tuple(f"{s:g}" for s in starts))

    def assign(self, t_s: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Window index of each time, -1 outside every window (or NaN)."""
        k = np.searchsorted(self.start_s, t_s, side="right").astype(np.int64) - 1
        inside = (k >= 0) & (t_s < self.end_s[np.clip(k, 0, None)]) & np.isfinite(t_s)
        return np.where(inside, k, -1)


def percentile_column(metric: str, q_pct: float) -> str:
    return f"{metric}_p{q_pct:g}_ms"


def table_quantiles(slo: Slo) -> tuple[float, ...]:
    """``QUANTILES_PCT`` plus any other percentile the SLO names (say p75)."""
    return tuple(sorted({*QUANTILES_PCT, *(t.quantile_pct for t in slo.targets)}))


def window_columns(
    slo: Slo, with_itl: bool = True, metrics: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """Columns of ``window_metrics(..., metrics=metrics)`` (with ``itl`` when given)."""
    chosen = set(LATENCY_COLUMNS if metrics is None else metrics) | {t.metric for t in slo.targets}
    latency = tuple(m for m in LATENCY_COLUMNS if m in chosen)
    metrics = (*latency, "itl") if with_itl else latency
    base = (
        "label", "t_start_s", "t_end_s", "duration_s", "n_started", "n_finished", "n_ok",
        "offered_rps", "achieved_rps", "output_tps", "goodput_rps", "in_flight_mean",
        "error_frac", *_OUTCOME_FRACS, "slo_attainment_frac", "e2e_mean_ms",
    )  # fmt: skip
    pcts = tuple(percentile_column(m, q) for m in metrics for q in table_quantiles(slo))
    return (*base, *pcts, "slo_met")


def window_metrics(
    derived: pd.DataFrame,
    windows: Windows,
    slo: Slo,
    good: npt.NDArray[np.bool_],
    *,
    itl: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None,
    metrics: tuple[str, ...] | None = None,
    in_flight: InFlight | None = None,
) -> pd.DataFrame:
    """One row per window; ``good`` from ``latency.good_requests``; ``itl`` from ``ok_itl_s``
    (values in seconds, row of their request); ``in_flight`` built once and reused saves
    two sorts per call.

    ``metrics`` limits the latency metrics given percentiles (default: all of
    ``LATENCY_COLUMNS``); the SLO's own metrics are always included.
    """
    groups = Grouping(
        by_start=windows.assign(derived["t_start_s"].to_numpy()),
        by_done=windows.assign(derived["t_done_s"].to_numpy()),
        labels=windows.labels,
        duration_s=windows.end_s - windows.start_s,
        in_flight_mean=(in_flight or InFlight.of(derived)).mean(windows),
    )
    table = group_metrics(derived, groups, slo, good, itl=itl, metrics=metrics)
    table.insert(1, "t_start_s", windows.start_s)
    table.insert(2, "t_end_s", windows.end_s)
    return table


@dataclass(frozen=True)
class Grouping:
    """Requests assigned to groups (windows, or unions of windows) by start and by completion."""

    by_start: npt.NDArray[np.int64]
    by_done: npt.NDArray[np.int64]
    labels: tuple[str, ...]
    duration_s: npt.NDArray[np.float64]
    in_flight_mean: npt.NDArray[np.float64]


def group_metrics(
    derived: pd.DataFrame,
    groups: Grouping,
    slo: Slo,
    good: npt.NDArray[np.bool_],
    *,
    itl: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None,
    metrics: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Metrics per group: ``window_columns`` without ``t_start_s``/``t_end_s``."""
    n = len(groups.labels)
    outcome = derived["outcome"].to_numpy()
    ok = outcome == OK
    by_start, by_done, duration = groups.by_start, groups.by_done, groups.duration_s

    def count(
        group: npt.NDArray[np.int64], weights: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        sel = group >= 0
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[sel]
        return np.bincount(group[sel], weights=w, minlength=n).astype(np.float64)[:n]

    n_started = count(by_start)
    e2e = derived["e2e_ms"].to_numpy()
    with_e2e = np.where(np.isfinite(e2e), by_start, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        table: dict[str, object] = {
            "label": list(groups.labels),
            "duration_s": duration,
            "n_started": n_started,
            "n_finished": n_started,
            "n_ok": count(by_start, ok),
            "offered_rps": n_started / duration,
            "achieved_rps": count(by_done, ok) / duration,
            "output_tps": count(by_done, np.where(ok, derived["output_tokens"], 0)) / duration,
            "goodput_rps": count(by_done, good) / duration,
            "in_flight_mean": groups.in_flight_mean,
            "error_frac": 1.0 - count(by_start, ok) / n_started,
        }
        for name, code in _OUTCOME_FRACS.items():
            table[name] = count(by_start, outcome == code) / n_started
        table["slo_attainment_frac"] = count(by_start, good) / n_started
        table["e2e_mean_ms"] = count(with_e2e, np.nan_to_num(e2e)) / count(with_e2e)
    qs = table_quantiles(slo)
    wanted = set(LATENCY_COLUMNS if metrics is None else metrics)
    wanted |= {t.metric for t in slo.targets}
    for metric, column in LATENCY_COLUMNS.items():
        if metric not in wanted:
            continue
        values = grouped_percentiles(derived[column].to_numpy(), by_start, n, qs)
        for j, q in enumerate(qs):
            table[percentile_column(metric, q)] = values[:, j]
    if itl is not None:
        itl_s, itl_rows = itl
        # percentiles in seconds, then ms: scaling tens of millions of values first costs more
        # gather 16-bit group codes: a quarter of the memory traffic of int64 at 32M values
        codes = by_start.astype(np.int16) if n < np.iinfo(np.int16).max else by_start
        values = grouped_percentiles(itl_s, codes[itl_rows], n, qs) * 1000.0
        for j, q in enumerate(qs):
            table[percentile_column("itl", q)] = values[:, j]
    frame = pd.DataFrame(table)
    frame["slo_met"] = slo_met(frame, slo)
    return frame


def slo_met(table: pd.DataFrame, slo: Slo) -> pd.Series:
    """Per row: every percentile target and the error fraction within the SLO.

    NA when the row has no finished request. A row whose requests all failed has NaN
    latencies but an error fraction of 1, so it is a violation. A target whose percentile
    column is absent (ITL in per-second tables) is not judged.
    """
    finished = table["n_finished"].to_numpy() > 0
    met = table["error_frac"].to_numpy() <= slo.error_max_frac
    for target in slo.targets:
        column = percentile_column(target.metric, target.quantile_pct)
        if column in table:  # per-second tables carry no ITL: those targets are not judged
            met &= ~(table[column].to_numpy() > target.threshold_ms)
    values = pd.array(met, dtype="boolean")
    values[~finished] = pd.NA
    return pd.Series(values, index=table.index)


def violated(slo_met_column: pd.Series) -> npt.NDArray[np.bool_]:
    """True where a row's ``slo_met`` is False (NA, no requests, is not a violation)."""
    return np.asarray(~slo_met_column.fillna(True).to_numpy(dtype=bool))


@dataclass(frozen=True)
class InFlight:
    """Exact integral of the in-flight count: I(t) = sum(t - sent, sent < t) -
    sum(t - done, done < t); built once per run (two sorts), then O(log n) per time."""

    sent_sorted: npt.NDArray[np.float64]
    done_sorted: npt.NDArray[np.float64]
    sent_cum: npt.NDArray[np.float64]
    done_cum: npt.NDArray[np.float64]

    @classmethod
    def of(cls, derived: pd.DataFrame) -> InFlight:
        sent = derived["t_sent_s"].to_numpy(dtype=np.float64)
        done = derived["t_done_s"].to_numpy(dtype=np.float64)
        keep = np.isfinite(sent) & np.isfinite(done)
        s, d = np.sort(sent[keep]), np.sort(done[keep])
        zero = np.zeros(1)
        return cls(s, d, np.concatenate((zero, np.cumsum(s))), np.concatenate((zero, np.cumsum(d))))

    def integral(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        ks = np.searchsorted(self.sent_sorted, t, side="left")
        kd = np.searchsorted(self.done_sorted, t, side="left")
        return np.asarray((ks * t - self.sent_cum[ks]) - (kd * t - self.done_cum[kd]))

    def mean(self, windows: Windows) -> npt.NDArray[np.float64]:
        """Time-average in-flight count over each window."""
        with np.errstate(divide="ignore", invalid="ignore"):
            span = windows.end_s - windows.start_s
            return (self.integral(windows.end_s) - self.integral(windows.start_s)) / span
