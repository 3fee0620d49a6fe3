"""What-if: predict SLO attainment for a replica count and a profile, in simulated time.

The stub's own serving code (engine, runner, router, queue bound; ``analysis.client_sim``)
serves simulated clients that send the way the load generator does, and the simulated
requests are judged with the same rules as a measured run (``latency.good_requests``,
exact percentiles over the requests started in the profile). Valid for the stub, and for a
real target as far as the stub's engine model is calibrated to it.

- Rate profiles run open loop: intended start times from ``profiles.arrivals`` (the
  generator's kind, Poisson by default, and CV) over the profile's rate; requests still in
  flight when the profile ends are cut and left out, as the load generator cuts them and
  ``pipeline.drop_stopped`` leaves them out.
- Users profiles run closed loop: ``round(profile.target_at(t))`` users at each whole second,
  each waiting for its reply and thinking ``think_time`` between requests; requests in flight
  at the end may finish within ``stop_timeout_s``.
- Prompt and output lengths are drawn (seeded) from the samples given, e.g. a measured
  run's (``whatif_setup.setup_from_run``); equal-length samples are drawn as pairs.
- ``replications`` independent runs (seeds ``seed``, ``seed + 1``, ...): percentiles and
  attainment are over all of them together, with the range over the single runs, which is
  how far one run of the profile may land from the prediction by chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.client_sim import (
    FleetModel,
    Lengths,
    QueueBound,
    ThinkTime,
    record_arrays,
    run_closed_loop,
    run_open_loop,
)
from analysis.latency import derive_requests, good_requests
from analysis.metrics import Windows, percentile_column, violated, window_metrics
from analysis.schema import FRAME_COLUMNS
from analysis.slo import Slo
from profiles.arrivals import ArrivalKind, intended_times
from profiles.base import Profile
from target_stub.engine_config import EngineConfig

REPORTED_PERCENTILES = (50, 95, 99)


@dataclass(frozen=True, slots=True)
class ClientModel:
    """How the load generator sends (the manifest's ``workload`` section)."""

    arrival: ArrivalKind = "poisson"
    arrival_cv: float = 1.0
    max_in_flight: int | None = None
    think_time: ThinkTime | None = None
    stop_timeout_s: float = 10.0
    overhead_ms: float = 0.0
    """Time a request spends outside the stub's model before it reaches the frontend:
    client, network, HTTP server, event-loop wake-ups (TTFT and E2E grow by it)."""


@dataclass(frozen=True)
class WhatIf:
    replicas: int
    replications: int
    requests: int
    finished: int
    duration_s: float
    achieved_rps: float
    goodput_rps: float
    slo_attainment_frac: float
    slo_attainment_range: tuple[float, float]
    slo_met: bool
    percentiles_ms: dict[str, float]
    """SLO target keys and ttft/tpot/e2e p50/p95/p99 (``ttft_p95_ms``, ...), all runs pooled."""
    percentile_ranges_ms: dict[str, tuple[float, float]]
    """The same keys: (lowest, highest) over the single runs."""
    records: pd.DataFrame = field(repr=False)
    """Every simulated request (``schema.FRAME_COLUMNS``; ``process_id`` = ``sim-<run>``)."""


def engine_config_from_stub(stub_config: Mapping[str, Any]) -> EngineConfig:
    """The engine config recorded in a run's ``stub_config`` (its "engine" entry)."""
    engine = stub_config.get("engine", stub_config)
    return EngineConfig.model_validate(engine)


def profile_arrivals_s(
    profile: Profile,
    seed: int | np.random.Generator,
    *,
    kind: ArrivalKind = "poisson",
    cv: float = 1.0,
) -> list[float]:
    """Intended start times of a rate profile (the open-loop generator's process)."""
    if profile.mode != "rate":
        raise ValueError(f"profile {profile.name!r} is mode {profile.mode!r}; arrivals need 'rate'")
    return intended_times(profile.target_at, kind=kind, seed=seed, cv=cv, end_s=profile.duration_s)


def predict(
    config: EngineConfig,
    profile: Profile,
    slo: Slo,
    *,
    replicas: int,
    prompt_tokens: Sequence[int],
    output_tokens: Sequence[int],
    seed: int = 0,
    router: str = "least_outstanding",
    clients: ClientModel | None = None,
    queue: QueueBound | None = None,
    replications: int = 1,
    arrivals_s: Sequence[float] | None = None,
) -> WhatIf:
    """Simulate ``profile`` against ``replicas`` stub replicas and judge it against ``slo``.

    ``arrivals_s``: for a rate profile, these intended start times (e.g. a run's recorded
    ones, the very arrivals it offered) instead of drawing new ones in each replication.
    """
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    fleet = FleetModel(config, replicas, router, queue or QueueBound())
    clients = clients or ClientModel()
    lengths = Lengths(prompt_tokens, output_tokens)
    frames = [
        simulate_profile(
            fleet, profile, lengths, clients, seed=seed + k, arrivals_s=arrivals_s
        ).assign(process_id=f"sim-{k}")
        for k in range(replications)
    ]
    return _judge(frames, slo, replicas, profile.duration_s)


def simulate_profile(
    fleet: FleetModel,
    profile: Profile,
    lengths: Lengths,
    clients: ClientModel,
    *,
    seed: int,
    arrivals_s: Sequence[float] | None = None,
) -> pd.DataFrame:
    """One simulated run of ``profile``: its requests as a records frame."""
    # independent streams for arrivals and lengths: one generator seeded twice with the
    # same seed would tie each arrival gap to a length draw
    arrival_seed, length_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(length_seed)
    end_s = profile.duration_s
    if profile.mode == "rate":
        arrivals = (
            sorted(arrivals_s)
            if arrivals_s is not None
            else profile_arrivals_s(
                profile,
                np.random.default_rng(arrival_seed),
                kind=clients.arrival,
                cv=clients.arrival_cv,
            )
        )
        records = run_open_loop(
            fleet, arrivals, lengths, rng, max_in_flight=clients.max_in_flight,
            overhead_s=clients.overhead_ms / 1e3, until_s=end_s,
        )  # fmt: skip
    else:
        records = run_closed_loop(
            fleet, lambda t_s: round(profile.target_at(t_s)), lengths, rng,
            duration_s=end_s, think_time=clients.think_time,
            overhead_s=clients.overhead_ms / 1e3,
            until_s=end_s + clients.stop_timeout_s,
        )  # fmt: skip
    # Unfinished requests are left out: the load generator cuts them when the profile ends
    # (open loop) or after its stop timeout, and pipeline.drop_stopped leaves them out.
    return records_frame(record_arrays(records), finished_only=True)


def records_frame(columns: Mapping[str, npt.NDArray[Any]], *, finished_only: bool) -> pd.DataFrame:
    """Simulated requests (``client_sim.record_arrays``) as a records frame
    (``schema.FRAME_COLUMNS``); unfinished ones get error_kind "aborted" and t_done_s the
    latest finish, or are left out with ``finished_only``."""
    done = columns["t_done_s"]
    keep = np.isfinite(done) if finished_only else np.ones(len(done), dtype=bool)
    cols = {name: values[keep] for name, values in columns.items()}
    n = int(keep.sum())
    done = cols["t_done_s"]
    finished = np.isfinite(done)
    error_kind = np.where(finished, cols["error_kind"], "aborted")
    output = cols["output_tokens"].astype(np.int64)
    data: dict[str, Any] = {
        "request_id": [f"sim-{i}" for i in range(n)],
        "process_id": pd.Categorical(["sim"] * n),
        "user_class": pd.Categorical(["what_if"] * n),
        "endpoint": pd.Categorical(["chat"] * n),
        "stage": pd.Categorical([None] * n),
        "tier": pd.Categorical([None] * n),
        "t_intended_s": cols["t_intended_s"],
        "t_sent_s": cols["t_sent_s"],
        "t_first_chunk_s": cols["t_first_token_s"],
        "t_first_token_s": cols["t_first_token_s"],
        "t_last_token_s": cols["t_last_token_s"],
        "t_done_s": np.where(finished, done, np.nanmax(done, initial=0.0)),
        "prompt_tokens": cols["prompt_tokens"],
        "output_tokens": output,
        "n_chunks": output,
        "status": cols["status"],
        "error_kind": pd.Categorical(error_kind),
        "error": [None] * n,
        "retries": np.zeros(n, dtype=np.int64),
    }
    return pd.DataFrame(data, columns=list(FRAME_COLUMNS))


def _judge(frames: list[pd.DataFrame], slo: Slo, replicas: int, duration_s: float) -> WhatIf:
    keys = {t.key: percentile_column(t.metric, t.quantile_pct) for t in slo.targets}
    for metric in ("ttft", "tpot", "e2e"):
        keys |= {f"{metric}_p{q}_ms": percentile_column(metric, q) for q in REPORTED_PERCENTILES}
    rows = [_window(frame, slo, duration_s).iloc[0] for frame in frames]
    records = pd.concat(frames, ignore_index=True)
    records["process_id"] = records["process_id"].astype("category")
    table = _window(records, slo, duration_s)
    pooled = table.iloc[0]
    n = len(frames)
    attainment = [float(np.nan_to_num(r["slo_attainment_frac"])) for r in rows]
    return WhatIf(
        replicas=replicas,
        replications=n,
        requests=len(records),
        finished=int(pooled["n_ok"]),
        duration_s=float(pooled["t_end_s"]),
        achieved_rps=float(pooled["achieved_rps"]) / n,
        goodput_rps=float(pooled["goodput_rps"]) / n,
        slo_attainment_frac=float(np.nan_to_num(pooled["slo_attainment_frac"])),
        slo_attainment_range=(min(attainment), max(attainment)),
        slo_met=not bool(violated(table["slo_met"])[0]),
        percentiles_ms={k: float(pooled[c]) for k, c in keys.items() if c in pooled},
        percentile_ranges_ms={
            k: (min(float(r[c]) for r in rows), max(float(r[c]) for r in rows))
            for k, c in keys.items()
            if c in pooled
        },
        records=records,
    )


def _window(frame: pd.DataFrame, slo: Slo, duration_s: float) -> pd.DataFrame:
    """The one-row window table of every request started in the profile."""
    derived = derive_requests(frame)
    good = good_requests(derived, slo)
    end = max(duration_s, float(np.nanmax(derived["t_done_s"], initial=duration_s)))
    whole = Windows(np.array([0.0]), np.array([end]), ("all",))
    return window_metrics(derived, whole, slo, good, metrics=("ttft", "tpot", "e2e"))
