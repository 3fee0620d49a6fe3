"""How many replicas served the load the capacity was measured at, and where that count came from.

The per-replica capacity divides the run's maximum sustainable load by the replicas that
served it. An autoscaler (or a fault) changes that count during a run, so, in order:

1. ``--replicas-in-run`` (``AnalysisOptions.replicas_in_run``), when given;
2. the ready replicas the server reported (``surgebench:replicas{state="ready"}`` in
   ``server_metrics.jsonl``, summed over label sets per scrape), averaged over the scrapes
   inside each load point, then taken at the load the capacity was measured at: linear in x
   at the SLO crossing, else at the point of highest achieved req/s;
3. ``stub_config.replicas`` (``stub_config.json``, else the manifest's ``stub_config``);
4. 1, with that assumption stated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

READY_METRIC: Final = "surgebench:replicas"
READY_LABEL: Final = 'state="ready"'


@dataclass(frozen=True, slots=True)
class ReplicaCount:
    replicas: float
    source: str
    """Where ``replicas`` came from, one sentence for the capacity caveats."""


def ready_replicas(metrics: pd.DataFrame | None) -> pd.Series | None:
    """Ready replicas per scrape time (index t_s), or None when the server does not say."""
    if metrics is None or metrics.empty:
        return None
    rows = metrics[metrics["metric"] == READY_METRIC]
    rows = rows[rows["name"].str.contains(READY_LABEL, regex=False)]
    if rows.empty:
        return None
    return rows.groupby("t_s")["value"].sum().sort_index()


def per_point_ready(
    ready: pd.Series, spans: Sequence[Sequence[tuple[float, float]]]
) -> npt.NDArray[np.float64]:
    """Mean ready replicas over the scrapes inside each load point's spans (NaN: none)."""
    t = ready.index.to_numpy(dtype=np.float64)
    values = ready.to_numpy(dtype=np.float64)
    out = np.full(len(spans), np.nan)
    for i, point_spans in enumerate(spans):
        inside = np.zeros(t.size, dtype=bool)
        for start, end in point_spans:
            inside |= (t >= start) & (t < end)
        if inside.any():
            out[i] = float(values[inside].mean())
    return out


def at_capacity(
    x: npt.NDArray[np.float64],
    achieved_rps: npt.NDArray[np.float64],
    replicas: npt.NDArray[np.float64],
    crossing_x: float | None,
) -> float | None:
    """Replicas at the load the capacity was measured at (see the module docstring)."""
    known = np.isfinite(replicas) & np.isfinite(x)
    if not known.any():
        return None
    if crossing_x is not None:
        order = np.argsort(x[known], kind="stable")
        return float(np.interp(crossing_x, x[known][order], replicas[known][order]))
    finite = np.where(known & np.isfinite(achieved_rps), achieved_rps, -np.inf)
    return float(replicas[int(np.argmax(finite))])


def resolve_replicas(
    given: int | None,
    measured: float | None,
    stub_replicas: object,
    stub_source: str | None,
) -> ReplicaCount:
    """The count to divide by, by the precedence in the module docstring."""
    if given is not None:
        return ReplicaCount(float(given), f"per replica: {given} replicas (given)")
    if measured is not None and measured > 0:
        return ReplicaCount(
            measured,
            f"per replica: {measured:.2f} ready replicas at the capacity load point "
            f"(server metrics {READY_METRIC}{{{READY_LABEL}}})",
        )
    if isinstance(stub_replicas, int) and stub_replicas > 0:
        where = stub_source or "stub config"
        return ReplicaCount(
            float(stub_replicas),
            f"per replica: {stub_replicas} replicas from {where} (no ready-replica metrics; "
            "an autoscaler's changes are not seen)",
        )
    return ReplicaCount(1.0, "per replica: assumed 1 replica (no server metrics, no stub config)")
