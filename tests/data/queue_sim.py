"""Seeded queueing simulations with known capacity, producing request records (schema v1).

``simulate_fcfs`` runs an open-loop FCFS queue with ``servers`` identical servers and
exponential service times (M/M/c with Poisson arrivals), stage after stage of constant
arrival rate. For M/M/1 the sojourn time is exponential with rate mu - lambda (Kleinrock,
Queueing Systems vol. 1, section 3.2), so the p95 end-to-end latency is ln(20) / (mu - lambda)
and the largest arrival rate meeting an E2E p95 SLO of T seconds is mu - ln(20) / T: the
ground truth that the saturation analysis must find.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from locustfiles.records import RequestRecord


@dataclass(frozen=True)
class SimStage:
    name: str
    rate_rps: float
    duration_s: float


def mm1_max_rate_rps(service_rate_rps: float, e2e_p95_s: float) -> float:
    """Largest Poisson arrival rate whose M/M/1 sojourn-time p95 is ``e2e_p95_s``."""
    return service_rate_rps - math.log(20.0) / e2e_p95_s


def simulate_fcfs(
    stages: Sequence[SimStage],
    *,
    service_rate_rps: float,
    servers: int,
    rng: np.random.Generator,
    output_tokens: int = 8,
    shed_queue_len: int | None = None,
) -> list[RequestRecord]:
    """Records of an open-loop run; with ``shed_queue_len``, arrivals finding that many
    requests waiting are refused with a 503 (load shedding)."""
    records: list[RequestRecord] = []
    free_at = [0.0] * servers  # heap of times at which each server becomes free
    waiting_done: list[float] = []  # start-of-service times of queued requests (for shedding)
    t = 0.0
    for stage in stages:
        n = rng.poisson(stage.rate_rps * stage.duration_s)
        arrivals = np.sort(rng.uniform(t, t + stage.duration_s, n))
        services = rng.exponential(1.0 / service_rate_rps, n)
        for arrival, service in zip(arrivals.tolist(), services.tolist(), strict=True):
            while waiting_done and waiting_done[0] <= arrival:
                heapq.heappop(waiting_done)
            index = f"sim-{len(records)}"
            if shed_queue_len is not None and len(waiting_done) >= shed_queue_len:
                records.append(_shed(index, stage.name, arrival))
                continue
            start = max(arrival, heapq.heappop(free_at))
            done = start + service
            heapq.heappush(free_at, done)
            if start > arrival:
                heapq.heappush(waiting_done, start)
            record = _served(
                index, stage.name, arrival=arrival, start=start, done=done, tokens=output_tokens
            )
            records.append(record)
        t += stage.duration_s
    return records


def _served(
    request_id: str, stage: str, *, arrival: float, start: float, done: float, tokens: int
) -> RequestRecord:
    # The first token arrives after a fifth of the service time (prefill), the rest evenly.
    first = start + 0.2 * (done - start)
    gap = (done - first) / (tokens - 1)
    return RequestRecord(
        request_id=request_id,
        process_id="local",
        user_class="open_loop",
        endpoint="chat",
        stage=stage,
        tier=None,
        t_intended_s=arrival,
        t_sent_s=arrival,
        t_first_chunk_s=first,
        t_first_token_s=first,
        t_last_token_s=done,
        t_done_s=done,
        prompt_tokens=100,
        output_tokens=tokens,
        n_chunks=tokens,
        itl_s=[gap] * (tokens - 1),
        status=200,
        error_kind=None,
        error=None,
        retries=0,
    )


def _shed(request_id: str, stage: str, arrival: float) -> RequestRecord:
    return RequestRecord(
        request_id=request_id,
        process_id="local",
        user_class="open_loop",
        endpoint="chat",
        stage=stage,
        tier=None,
        t_intended_s=arrival,
        t_sent_s=arrival,
        t_first_chunk_s=None,
        t_first_token_s=None,
        t_last_token_s=None,
        t_done_s=arrival + 0.001,
        prompt_tokens=100,
        output_tokens=0,
        n_chunks=0,
        itl_s=None,
        status=503,
        error_kind="status",
        error="503 overloaded",
        retries=0,
    )
