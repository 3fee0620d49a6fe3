"""Run engines in simulated time: no network, no asyncio, no sleeping.

The same :class:`~target_stub.engine.Engine` that serves HTTP is stepped by a discrete-event
loop here, for calibration (tests/calibration) and for analysis' what-if predictions. A
client-visible request arrives at ``t_arrival_s``, reaches its replica's engine after the
frontend delay (``frontend_ms``), and its TTFT/E2E are measured from ``t_arrival_s``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Literal

from target_stub.engine import FinishReason, Sequence, SequenceKind
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
) -> SimOutcome:
    """Serve ``requests`` (sorted by arrival) on ``replicas`` engines in simulated time.

    Stops when every request finished, or at ``until_s`` (unfinished results keep
    ``t_done_s = None``).
    """
    clock = SimClock()
    engines = [create_engine(config, clock=clock, name=f"engine-{i}") for i in range(replicas)]
    frontend_s = 0.0 if config.fixed_timing else config.frontend_ms / 1e3
    results: list[SimResult] = []
    # Event heap: (time, order, kind, payload). kinds: 0 = step end, 1 = engine admission,
    # 2 = client arrival (a step end at the same instant is applied first, like a real loop).
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
            idx = len(results)
            results.append(SimResult(request=req, replica=-1))
            heapq.heappush(heap, (req.t_arrival_s, next(order), 2, idx))

    def start_step(i: int) -> None:
        duration_s = engines[i].plan_step()
        if duration_s is None:
            step_pending[i] = False
            return
        step_pending[i] = True
        outcome.steps += 1
        outcome.batch_sizes.append(engines[i].num_running)
        heapq.heappush(heap, (clock.now_s + duration_s, next(order), 0, i))

    push_next_arrival()
    while heap:
        t, _, kind, payload = heapq.heappop(heap)
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
                sink=_RecordingSink(res, clock),
                kind=req.kind,
            )
            queued[payload] = (seq, res.replica)
            heapq.heappush(heap, (t + frontend_s, next(order), 1, payload))
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
    heap[:] = [ev for ev in heap if not (ev[2] == 0 and ev[3] == i)]
    heapq.heapify(heap)
    start_step(i)
