"""What-if: predict SLO attainment for a replica count and a profile, in simulated time.

Runs the stub's own continuous-batching engine (``target_stub.simulate``, no network, no
sleeping) on the profile's arrivals, then judges the simulated requests with the same SLO
rules as a measured run (``latency.good_requests``, exact percentiles). Valid for the stub's
engine model, and for a real target as far as that model is calibrated to it.

- Rate profiles are simulated open loop: arrivals from ``profiles.arrivals.intended_times``
  (Poisson, seeded) over the profile's rate.
- Users profiles are simulated closed loop at the profile's peak user count (constant
  concurrency, no think time): an approximation for profiles whose users change over time.
- Prompt and output lengths are drawn (seeded) from the samples given, e.g. a measured run's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.latency import derive_requests, good_requests
from analysis.metrics import Windows, percentile_column, violated, window_metrics
from analysis.schema import FRAME_COLUMNS
from analysis.slo import Slo
from profiles.arrivals import intended_times
from profiles.base import Profile
from target_stub.engine_config import EngineConfig
from target_stub.simulate import SimRequest, SimResult, simulate


@dataclass(frozen=True)
class WhatIf:
    replicas: int
    requests: int
    finished: int
    duration_s: float
    achieved_rps: float
    goodput_rps: float
    slo_attainment_frac: float
    slo_met: bool
    percentiles_ms: dict[str, float]
    """SLO target keys and ttft/tpot/e2e p95, in ms."""


def engine_config_from_stub(stub_config: Mapping[str, Any]) -> EngineConfig:
    """The engine config recorded in a run's ``stub_config`` (its "engine" entry)."""
    engine = stub_config.get("engine", stub_config)
    return EngineConfig.model_validate(engine)


def profile_arrivals_s(profile: Profile, seed: int) -> list[float]:
    """Intended start times of a rate profile (Poisson)."""
    if profile.mode != "rate":
        raise ValueError(f"profile {profile.name!r} is mode {profile.mode!r}; arrivals need 'rate'")
    return intended_times(profile.target_at, seed=seed, end_s=profile.duration_s)


def predict(
    config: EngineConfig,
    profile: Profile,
    slo: Slo,
    *,
    replicas: int,
    prompt_tokens: Sequence[int],
    output_tokens: Sequence[int],
    seed: int = 0,
) -> WhatIf:
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    rng = np.random.default_rng(seed)
    concurrency: int | None = None
    if profile.mode == "rate":
        arrivals = profile_arrivals_s(profile, seed)
    else:
        concurrency = max(1, round(profile.max_target()))
        # enough requests to keep the users busy for the whole profile; stagger the starts
        mean_tokens = float(np.mean(output_tokens)) if len(output_tokens) else 1.0
        budget = int(concurrency * profile.duration_s / max(mean_tokens * 0.01, 0.05)) + 1
        arrivals = np.linspace(0.0, 1.0, min(budget, 200_000)).tolist()
    n = len(arrivals)
    prompts = rng.choice(np.asarray(prompt_tokens, dtype=np.int64), n)
    outputs = rng.choice(np.asarray(output_tokens, dtype=np.int64), n)
    requests = [
        SimRequest(t_arrival_s=t, prompt_tokens=int(p), output_tokens=max(int(o), 1))
        for t, p, o in zip(arrivals, prompts, outputs, strict=True)
    ]
    outcome = simulate(
        config, requests, replicas=replicas, until_s=profile.duration_s * 1.5 + 60.0,
        concurrency=concurrency,
    )  # fmt: skip
    frame = results_frame(outcome.results, profile.duration_s)
    return _judge(frame, slo, replicas, profile.duration_s)


def results_frame(results: Sequence[SimResult], horizon_s: float) -> pd.DataFrame:
    """Simulated requests as a records frame (``schema.FRAME_COLUMNS``), started before
    ``horizon_s``; unfinished or aborted requests have status 0."""
    rows = [r for r in results if r.request.t_arrival_s < horizon_s]
    sent = np.array([r.request.t_arrival_s for r in rows], dtype=np.float64)
    done_ok = np.array(
        [r.t_done_s is not None and r.finish_reason != "abort" for r in rows], dtype=bool
    )

    def times(values: list[float | None]) -> npt.NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    done = times([r.t_done_s for r in rows])
    n = len(rows)
    data: dict[str, Any] = {
        "request_id": [f"sim-{i}" for i in range(n)],
        "process_id": pd.Categorical(["sim"] * n),
        "user_class": pd.Categorical(["what_if"] * n),
        "endpoint": pd.Categorical(["chat"] * n),
        "stage": pd.Categorical([None] * n),
        "tier": pd.Categorical([None] * n),
        "t_intended_s": sent,
        "t_sent_s": sent,
        "t_first_chunk_s": times([r.t_first_token_s for r in rows]),
        "t_first_token_s": times([r.t_first_token_s for r in rows]),
        "t_last_token_s": times([r.t_last_token_s for r in rows]),
        "t_done_s": np.where(np.isfinite(done), done, horizon_s * 1.5),
        "prompt_tokens": np.array([r.request.prompt_tokens for r in rows], dtype=np.float64),
        "output_tokens": np.array([r.output_tokens for r in rows], dtype=np.int64),
        "n_chunks": np.array([r.output_tokens for r in rows], dtype=np.int64),
        "status": np.where(done_ok, 200, 0).astype(np.int64),
        "error_kind": pd.Categorical([None if ok else "aborted" for ok in done_ok]),
        "error": [None] * n,
        "retries": np.zeros(n, dtype=np.int64),
    }
    return pd.DataFrame(data, columns=list(FRAME_COLUMNS))


def _judge(frame: pd.DataFrame, slo: Slo, replicas: int, duration_s: float) -> WhatIf:
    derived = derive_requests(frame)
    good = good_requests(derived, slo)
    end = max(duration_s, float(np.nanmax(derived["t_done_s"], initial=duration_s)))
    table = window_metrics(derived, Windows(np.array([0.0]), np.array([end]), ("all",)), slo, good)
    row = table.iloc[0]
    keys = {t.key: percentile_column(t.metric, t.quantile_pct) for t in slo.targets}
    keys |= {f"{m}_p95_ms": percentile_column(m, 95) for m in ("ttft", "tpot", "e2e")}
    return WhatIf(
        replicas=replicas,
        requests=len(frame),
        finished=int(row["n_ok"]),
        duration_s=end,
        achieved_rps=float(row["achieved_rps"]),
        goodput_rps=float(row["goodput_rps"]),
        slo_attainment_frac=float(np.nan_to_num(row["slo_attainment_frac"])),
        slo_met=not bool(violated(table["slo_met"])[0]),
        percentiles_ms={k: float(row[c]) for k, c in keys.items() if c in row},
    )
