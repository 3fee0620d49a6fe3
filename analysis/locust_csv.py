"""Read a plain Locust ``--csv`` run (``PREFIX_stats_history.csv`` and friends).

Locust's own numbers are a cross-check, never the truth (docs/ARCHITECTURE.md): response
times are time to headers for streams and rounded to about two significant digits before the
percentiles, and history percentiles are cumulative unless ``--csv-full-history`` was given.
What can be derived: requests and failures per second (from the cumulative counts), the user
count, and Locust's approximate response-time percentiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

LOCUST_MISSING: Final = (
    "per-request records (requests/*.jsonl)",
    "TTFT, TPOT and ITL",
    "output tokens/s",
    "exact percentiles (Locust's are bucketed to ~2 significant digits)",
    "goodput and SLO attainment",
    "shed/dropped/abandoned breakdown",
    "saturation point, USL fit and capacity plan",
)
# columns of the history frame returned by read_locust_history (units in the names)
HISTORY_COLUMNS: Final = (
    "t_s",
    "users",
    "completed_rps",
    "failed_rps",
    "total_requests",
    "total_failures",
    "response_p50_ms",
    "response_p90_ms",
    "response_p95_ms",
    "response_p99_ms",
)
_PCT_COLUMNS: Final = {"50%": "response_p50_ms", "90%": "response_p90_ms"}
_PCT_COLUMNS_MORE: Final = {"95%": "response_p95_ms", "99%": "response_p99_ms"}


def find_history_csv(directory: Path) -> Path | None:
    """The ``*_stats_history.csv`` in ``directory``, or None."""
    found = sorted(directory.glob("*_stats_history.csv"))
    return found[0] if found else None


def read_locust_history(path: Path) -> pd.DataFrame:
    """The "Aggregated" rows of a Locust stats history CSV, one row per Locust sample.

    ``completed_rps`` and ``failed_rps`` come from differences of the cumulative counts over
    the timestamps (Locust's own "Requests/s" column is a smoothed current rate).
    """
    raw = pd.read_csv(path, na_values=["N/A"])
    agg = raw[raw["Name"] == "Aggregated"].copy()
    if agg.empty:
        raise ValueError(f"{path} has no 'Aggregated' rows; is it a Locust stats history CSV?")
    t = agg["Timestamp"].to_numpy(dtype=np.float64)
    total = agg["Total Request Count"].to_numpy(dtype=np.float64)
    fails = agg["Total Failure Count"].to_numpy(dtype=np.float64)
    dt = np.diff(t, prepend=t[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        completed = np.where(dt > 0, np.diff(total, prepend=total[0]) / dt, 0.0)
        failed = np.where(dt > 0, np.diff(fails, prepend=fails[0]) / dt, 0.0)
    out = pd.DataFrame(
        {
            "t_s": t - t[0],
            "users": agg["User Count"].to_numpy(dtype=np.float64),
            "completed_rps": completed,
            "failed_rps": failed,
            "total_requests": total,
            "total_failures": fails,
        }
    )
    for source, target in {**_PCT_COLUMNS, **_PCT_COLUMNS_MORE}.items():
        values = agg[source].to_numpy(dtype=np.float64) if source in agg else np.nan
        out[target] = values
    return out.reset_index(drop=True)
