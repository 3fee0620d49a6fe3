"""Run engines in simulated time: no network, no asyncio, no sleeping.

The same :class:`~target_stub.engine.Engine` that serves HTTP is stepped by a discrete-event
loop here, for calibration (tests/calibration) and for analysis' what-if predictions. A
client-visible request arrives at ``t_arrival_s``, reaches its replica's engine after the
frontend delay (``frontend_ms``), and its TTFT/E2E are measured from ``t_arrival_s``.

Two load models: open loop (each request arrives at its own ``t_arrival_s``) and closed
loop (``concurrency`` users, each sending its next request the instant its previous one
finished, as AIPerf/GenAI-Perf ``--concurrency`` and ``vllm bench serve
--max-concurrency`` do). In a closed loop only the first ``concurrency`` requests keep their
``t_arrival_s`` (stagger them: identical requests started together stay in lock-step in
a deterministic simulation, which no real server does); later ones are sent on completion.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Literal

from target_stub.engine import FinishReason, SchedulerPolicy, Sequence, SequenceKind
from target_stub.engine_config import EngineConfig
from target_stub.engines import AnyEngine, create_engine

RouterName = Literal["round_robin", "least_outstanding"]


class SimClock:
    """A clock the simulation moves by hand."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@dataclass(frozen=True, slots=True)
class SimRequest:
    t_arrival_s: float
    prompt_tokens: int
    output_tokens: int
    kind: SequenceKind = "text"


@dataclass(slots=True)
class SimResult:
    """What a client would have measured for one request (seconds since t = 0)."""

    request: SimRequest
    replica: int
    t_first_token_s: float | None = None
    t_last_token_s: float | None = None
    t_done_s: float | None = None
    output_tokens: int = 0
    preemptions: int = 0
    finish_reason: FinishReason | None = None
    token_times_s: list[float] | None = None

    @property
    def ttft_s(self) -> float | None:
        t = self.t_first_token_s
        return None if t is None else t - self.request.t_arrival_s

    @property
    def tpot_s(self) -> float | None:
        if self.t_first_token_s is None or self.t_last_token_s is None or self.output_tokens < 2:
            return None
        return (self.t_last_token_s - self.t_first_token_s) / (self.output_tokens - 1)

    @property
    def e2e_s(self) -> float | None:
        return None if self.t_done_s is None else self.t_done_s - self.request.t_arrival_s


@dataclass(slots=True)
class _RecordingSink:
    result: SimResult
    clock: SimClock
    on_done: Callable[[], None] | None = None

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        now = self.clock.now_s
        res = self.result
        if res.t_first_token_s is None:
            res.t_first_token_s = now
        res.t_last_token_s = now
        res.output_tokens += n_new
        if res.token_times_s is not None:
            res.token_times_s.append(now)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        res = self.result
        res.t_done_s = self.clock.now_s
        res.finish_reason = reason
        res.preemptions = seq.preemptions
        if seq.kind != "text":
            res.output_tokens = seq.generated
            res.t_first_token_s = res.t_last_token_s = res.t_done_s
        if self.on_done is not None:
            self.on_done()


@dataclass(slots=True)
class SimOutcome:
    results: list[SimResult]
    engines: list[AnyEngine]
    end_s: float
    steps: int = 0
    batch_sizes: list[int] = field(default_factory=list)


def simulate(
    config: EngineConfig,
    requests: Iterable[SimRequest],
    *,
    replicas: int = 1,
    router: RouterName = "least_outstanding",
    until_s: float | None = None,
    keep_token_times: bool = False,
    concurrency: int | None = None,
    policy: SchedulerPolicy | None = None,
) -> SimOutcome:
    """Serve ``requests`` on ``replicas`` engines in simulated time.

    Open loop (``concurrency`` None): ``requests`` must be sorted by ``t_arrival_s``.
    Closed loop (``concurrency`` = N): the first N requests arrive at their own
    ``t_arrival_s`` (in any order), and each finished request is replaced at once by the
    next one from ``requests``, whose result's ``request`` then carries the time it was
    sent. ``policy`` is passed to :func:`~target_stub.engines.create_engine`. Stops when
    every request finished, or at ``until_s`` (unfinished results keep ``t_done_s = None``).
    """
    if concurrency is not None and concurrency < 1:
        raise ValueError(f"concurrency={concurrency} must be >= 1 (or None for open loop)")
    clock = SimClock()
    engines = [
        create_engine(config, clock=clock, name=f"engine-{i}", policy=policy)
        for i in range(replicas)
    ]
    frontend_s = 0.0 if config.fixed_timing else config.frontend_ms / 1e3
    results: list[SimResult] = []
    # Event heap: (time, kind, order, payload). kinds: 0 = step end, 1 = engine admission,
    # 2 = client arrival: at the same instant a step end is applied first, like a real loop.
    heap: list[tuple[float, int, int, int]] = []
    order = itertools.count()
    step_pending = [False] * replicas
    rr = itertools.count()
    arrivals = iter(requests)
    queued: dict[int, tuple[Sequence, int]] = {}
    outcome = SimOutcome(results=results, engines=engines, end_s=0.0)

    def push_next_arrival() -> None:
        req = next(arrivals, None)
        if req is not None:
            if concurrency is not None and len(results) >= concurrency:
                req = dataclasses.replace(req, t_arrival_s=clock.now_s)
            idx = len(results)
            results.append(SimResult(request=req, replica=-1))
            heapq.heappush(heap, (req.t_arrival_s, 2, next(order), idx))

    def start_step(i: int) -> None:
        duration_s = engines[i].plan_step()
        if duration_s is None:
            step_pending[i] = False
            return
        step_pending[i] = True
        outcome.steps += 1
        outcome.batch_sizes.append(engines[i].num_running)
        heapq.heappush(heap, (clock.now_s + duration_s, 0, next(order), i))

    for _ in range(concurrency or 1):
        push_next_arrival()  # closed loop: all initial requests are queued up front
    on_done = push_next_arrival if concurrency is not None else None
    while heap:
        t, kind, _, payload = heapq.heappop(heap)
        if until_s is not None and t > until_s:
            clock.now_s = until_s
            break
        clock.now_s = t
        if kind == 0:
            engines[payload].complete_step()
            start_step(payload)
        elif kind == 2:
            res = results[payload]
            req = res.request
            res.replica = _route(engines, router, next(rr))
            if keep_token_times:
                res.token_times_s = []
            seq = Sequence(
                prompt_tokens=req.prompt_tokens,
                output_tokens=req.output_tokens,
                sink=_RecordingSink(res, clock, on_done),
                kind=req.kind,
            )
            queued[payload] = (seq, res.replica)
            heapq.heappush(heap, (t + frontend_s, 1, next(order), payload))
            if concurrency is None:
                push_next_arrival()
        else:
            seq, i = queued.pop(payload)
            engines[i].add(seq)
            if not step_pending[i]:
                start_step(i)
            elif engines[i].replan_on_add:
                _replan_fixed(heap, engines, i, start_step)
    outcome.end_s = clock.now_s
    return outcome


def _route(engines: Seq[AnyEngine], router: RouterName, turn: int) -> int:
    if router == "round_robin":
        return turn % len(engines)
    loads = [e.num_running + e.num_waiting for e in engines]
    return loads.index(min(loads))


def _replan_fixed(
    heap: list[tuple[float, int, int, int]],
    engines: Seq[AnyEngine],
    i: int,
    start_step: Callable[[int], None],
) -> None:
    """A fixed-timing engine may have an earlier due time now: drop its pending step."""
    heap[:] = [ev for ev in heap if not (ev[1] == 0 and ev[3] == i)]
    heapq.heapify(heap)
    start_step(i)
