"""Server-side series from ``server_metrics.jsonl`` and the limiter they point to.

vLLM metric names (REFERENCE section 2), summed over label sets (replicas) per scrape except
KV-cache usage, where the fullest replica is what limits (max). ``vllm:kv_cache_usage_perc``
is a fraction in [0, 1] despite its name; the older ``vllm:gpu_cache_usage_perc`` is read the
same way.

Limiter rule, judged over the first load point that violates the SLO (else the heaviest):
1. ``kv_cache``: KV usage >= 0.95 at some scrape or any preemption in the window;
2. ``batch_slots``: running requests >= 95% of max_num_seqs (when the stub config says it)
   while requests wait;
3. ``queue``: requests waiting on average >= 1;
4. ``errors``: the error fraction breaks the SLO while no queue forms (shedding, failures);
5. otherwise ``none`` (no server-side signal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

SERIES_METRICS: Final = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_usage_frac": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    "preemptions_total": ("vllm:num_preemptions_total",),
}
KV_FULL_FRAC: Final = 0.95
SLOTS_FULL_FRAC: Final = 0.95
LimiterName = Literal["kv_cache", "batch_slots", "queue", "errors", "none"]


@dataclass(frozen=True, slots=True)
class Limiter:
    name: LimiterName
    evidence: str


def server_series(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per scrape time: t_s, running, waiting, kv_usage_frac, preemptions_total
    (NaN for a metric the server does not export)."""
    out = pd.DataFrame({"t_s": np.sort(metrics["t_s"].unique())})
    for column, names in SERIES_METRICS.items():
        rows = metrics[metrics["metric"].isin(names)]
        how = "max" if column == "kv_usage_frac" else "sum"
        values = rows.groupby("t_s")["value"].agg(how) if not rows.empty else pd.Series()
        out[column] = out["t_s"].map(values).astype(np.float64)
    return out


def name_limiter(
    series: pd.DataFrame | None,
    t_start_s: float,
    t_end_s: float,
    *,
    error_breaks_slo: bool,
    stub_config: Mapping[str, Any] | None,
) -> Limiter | None:
    """The limiter in ``[t_start_s, t_end_s)``; None without server metrics."""
    if series is None or series.empty:
        return None
    window = series[(series["t_s"] >= t_start_s) & (series["t_s"] < t_end_s)]
    if window.empty:
        return Limiter("none", "no server scrape inside the saturated load point")
    kv_max = float(window["kv_usage_frac"].max())
    preempt = window["preemptions_total"].dropna()
    preemptions = float(preempt.iloc[-1] - preempt.iloc[0]) if len(preempt) > 1 else 0.0
    if kv_max >= KV_FULL_FRAC or preemptions > 0:
        return Limiter("kv_cache", f"KV usage up to {kv_max:.0%}, {preemptions:.0f} preemptions")
    running = float(window["running"].max())
    waiting = float(window["waiting"].mean())
    max_seqs = _max_num_seqs(stub_config)
    if max_seqs and running >= SLOTS_FULL_FRAC * max_seqs and waiting > 0:
        return Limiter(
            "batch_slots", f"{running:.0f} of {max_seqs} batch slots busy, {waiting:.1f} waiting"
        )
    if waiting >= 1.0:
        return Limiter("queue", f"{waiting:.1f} requests waiting on average")
    if error_breaks_slo:
        return Limiter("errors", "the error fraction breaks the SLO with no queue forming")
    return Limiter("none", "no queue, KV or batch-slot pressure in the server metrics")


def _max_num_seqs(stub_config: Mapping[str, Any] | None) -> int | None:
    if not stub_config:
        return None
    for key in ("max_num_seqs",):
        if isinstance(stub_config.get(key), int):
            return int(stub_config[key])
    engine = stub_config.get("engine")
    if isinstance(engine, Mapping) and isinstance(engine.get("max_num_seqs"), int):
        return int(engine["max_num_seqs"])
    return None
