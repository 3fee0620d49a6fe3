"""Per-request latencies and outcomes derived from the raw records (docs/METRICS.md).

- TTFT = t_first_token - t_sent (also from t_intended for open loop, and to the first chunk
  of any kind, vLLM's role chunk); TPOT = (t_last_token - t_first_token) / (output_tokens - 1);
  E2E = t_done - t_sent (and t_done - t_intended). All in milliseconds here.
- Latencies are kept for successful requests only (NaN otherwise): failures count in the
  error rates and against goodput, not in the latency percentiles.
- Outcome: ok (2xx, no error_kind), dropped / abandoned (the client's own error kinds),
  shed (429, 503 or 529: the server refused under load), failed (anything else).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.io import ItlSamples
from analysis.slo import Slo

OUTCOMES: Final = ("ok", "failed", "shed", "dropped", "abandoned")
OK, FAILED, SHED, DROPPED, ABANDONED = range(5)
SHED_STATUSES: Final = (429, 503, 529)
LATENCY_COLUMNS: Final = {
    "ttft": "ttft_ms",
    "ttft_intended": "ttft_intended_ms",
    "ttft_first_chunk": "ttft_first_chunk_ms",
    "tpot": "tpot_ms",
    "e2e": "e2e_ms",
    "e2e_intended": "e2e_intended_ms",
}
DERIVED_COLUMNS: Final = (
    "t_start_s",
    "t_sent_s",
    "t_done_s",
    "outcome",
    "output_tokens",
    *LATENCY_COLUMNS.values(),
)


def derive_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """Derived per-request columns ``DERIVED_COLUMNS`` (same row order as ``requests``).

    ``t_start_s`` is when the request should have started: ``t_intended_s`` for open-loop
    records (timing from the intended start avoids coordinated omission), else ``t_sent_s``.
    """
    sent = requests["t_sent_s"].to_numpy(dtype=np.float64)
    intended = requests["t_intended_s"].to_numpy(dtype=np.float64)
    done = requests["t_done_s"].to_numpy(dtype=np.float64)
    first_token = requests["t_first_token_s"].to_numpy(dtype=np.float64)
    first_chunk = requests["t_first_chunk_s"].to_numpy(dtype=np.float64)
    last_token = requests["t_last_token_s"].to_numpy(dtype=np.float64)
    tokens = requests["output_tokens"].to_numpy(dtype=np.int64)
    outcome = classify_outcomes(requests)
    ok = outcome == OK
    start = np.where(np.isfinite(intended), intended, sent)

    def ms(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(ok, values * 1000.0, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(tokens >= 2, (last_token - first_token) / (tokens - 1), np.nan)
    return pd.DataFrame(
        {
            "t_start_s": start,
            "t_sent_s": sent,
            "t_done_s": done,
            "outcome": outcome,
            "output_tokens": tokens,
            "ttft_ms": ms(first_token - sent),
            "ttft_intended_ms": ms(first_token - intended),
            "ttft_first_chunk_ms": ms(first_chunk - sent),
            "tpot_ms": ms(tpot),
            "e2e_ms": ms(done - sent),
            "e2e_intended_ms": ms(done - intended),
        }
    )


def classify_outcomes(requests: pd.DataFrame) -> npt.NDArray[np.int8]:
    """Outcome code per request, indices into ``OUTCOMES``."""
    status = requests["status"].to_numpy(dtype=np.int64)
    kind = requests["error_kind"].astype(object).to_numpy()
    out = np.full(len(status), FAILED, dtype=np.int8)
    no_error = pd.isna(kind)
    out[no_error & (status >= 200) & (status < 300)] = OK
    out[np.isin(status, SHED_STATUSES)] = SHED
    out[kind == "dropped"] = DROPPED
    out[kind == "abandoned"] = ABANDONED
    return out


def good_requests(derived: pd.DataFrame, slo: Slo) -> npt.NDArray[np.bool_]:
    """Requests that succeeded and met every SLO threshold on their own latencies.

    ``itl`` targets are judged on the request's TPOT (its mean inter-token latency); a
    threshold on a latency the request does not have (no intended time, one token) is not
    held against it.
    """
    good = derived["outcome"].to_numpy() == OK
    for target in slo.targets:
        metric = "tpot" if target.metric == "itl" else target.metric
        values = derived[LATENCY_COLUMNS[metric]].to_numpy()
        good &= ~(values > target.threshold_ms)
    return np.asarray(good, dtype=bool)


def ok_itl_s(
    itl: ItlSamples, derived: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """ITL values (seconds) of successful requests, with the row index of their request."""
    ok = derived["outcome"].to_numpy() == OK
    # The common case, failed requests carry no ITL: skip masking tens of millions of values.
    if not np.any(~ok & (itl.counts > 0)):
        return itl.values_s, itl.record_index
    keep = ok[itl.record_index]
    return itl.values_s[keep], itl.record_index[keep]
