"""Simulated clients against the stub's own serving code, in simulated time.

The server side is the stub's: one :class:`~target_stub.runner.EngineRunner` per replica
(the frontend delay, steps chained from their planned end) around the engine
``target_stub.engines.create_engine`` builds, routed by the stub's router
(``target_stub.router``), with the stub's waiting-queue bound (``OverloadConfig``), all on a
:class:`~target_stub.sim_loop.SimLoop`: no network, no sleeping. The client side mirrors
the load generator (docs/loadgen.md):

- open loop: each request is sent at its intended time; above ``max_in_flight`` requests
  in flight the arrival is dropped, as ``locustfiles.open_loop`` does;
- closed loop: ``users_at(t)`` users (read at each whole second, as Locust's shape tick
  does); each sends a request, waits for the whole reply, thinks ``think_time.sample``
  seconds and repeats. Users added at a tick start at once; users removed (or all users at
  ``duration_s``) send nothing more and let their request in flight finish (Locust's
  ``--stop-timeout``).

Not modelled: network, HTTP and the client's own time, except as one fixed ``overhead_s``
on the request path (default 0; on loopback they add 1-3 ms to TTFT, docs/analysis.md
"What-if"), autoscaling, faults, rate limits, retries.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from target_stub.engine import FinishReason
from target_stub.engine import Sequence as EngineSequence
from target_stub.engine_config import EngineConfig
from target_stub.engines import create_engine
from target_stub.router import create_router
from target_stub.runner import EngineRunner
from target_stub.sim_loop import SimLoop

STATUS_OK = 200
STATUS_ABORTED = 0


class ThinkTime(Protocol):
    """A think-time distribution (``locustfiles.distribution.Distribution`` is one)."""

    def sample(self, rng: random.Random) -> float:
        """One think time in seconds (>= 0)."""


@dataclass(frozen=True, slots=True)
class QueueBound:
    """The stub's per-replica waiting-queue bound (``StubConfig.overload``); None = off."""

    max_waiting_requests: int | None = None
    max_waiting_tokens: int | None = None
    reject_status: int = 503


@dataclass(frozen=True, slots=True)
class FleetModel:
    """The serving side: engine, replica count, router and queue bound."""

    config: EngineConfig
    replicas: int
    router: str = "least_outstanding"
    queue: QueueBound = QueueBound()

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {self.replicas}")
        create_router(self.router)  # ValueError naming the known routers


@dataclass(slots=True)
class ClientRecord:
    """One simulated request as the client saw it (seconds since t = 0; None = never)."""

    t_intended_s: float | None
    t_sent_s: float
    prompt_tokens: int
    output_tokens_max: int
    t_first_token_s: float | None = None
    t_last_token_s: float | None = None
    t_done_s: float | None = None
    output_tokens: int = 0
    status: int = STATUS_ABORTED
    error_kind: str | None = None


class Lengths:
    """(prompt, output) token pairs drawn with replacement from given samples, seeded."""

    def __init__(self, prompt_tokens: Sequence[int], output_tokens: Sequence[int]) -> None:
        prompts = np.asarray(prompt_tokens, dtype=np.int64)
        outputs = np.asarray(output_tokens, dtype=np.int64)
        if prompts.size == 0 or outputs.size == 0:
            raise ValueError("prompt_tokens and output_tokens need at least one sample each")
        # Equal lengths are taken as pairs (one request each), keeping their correlation.
        self.paired = prompts.size == outputs.size
        self._prompts = np.maximum(prompts, 1)
        self._outputs = np.maximum(outputs, 1)

    def draws(self, rng: np.random.Generator, batch: int = 4096) -> Iterator[tuple[int, int]]:
        """An endless stream of (prompt_tokens, output_tokens)."""
        while True:
            i = rng.integers(0, self._prompts.size, batch)
            j = i if self.paired else rng.integers(0, self._outputs.size, batch)
            yield from zip(self._prompts[i].tolist(), self._outputs[j].tolist(), strict=True)


class _Sink:
    __slots__ = ("loop", "on_done", "record")

    def __init__(
        self, record: ClientRecord, loop: SimLoop, on_done: Callable[[], None] | None
    ) -> None:
        self.record = record
        self.loop = loop
        self.on_done = on_done

    def on_tokens(self, seq: EngineSequence, n_new: int) -> None:
        record = self.record
        now = self.loop.now_s
        if record.t_first_token_s is None:
            record.t_first_token_s = now
        record.t_last_token_s = now
        record.output_tokens += n_new

    def on_finish(self, seq: EngineSequence, reason: FinishReason) -> None:
        record = self.record
        record.t_done_s = self.loop.now_s
        if reason != "abort":
            record.status = STATUS_OK
        else:
            record.error_kind = "status"
        if seq.kind != "text":  # images and embeddings: one "token", the result
            record.output_tokens = max(record.output_tokens, seq.generated)
            record.t_first_token_s = record.t_last_token_s = record.t_done_s
        if self.on_done is not None:
            self.on_done()


class _Fleet:
    def __init__(self, model: FleetModel, loop: SimLoop, overhead_s: float) -> None:
        self.loop = loop
        self.queue = model.queue
        self.overhead_s = overhead_s
        self.router = create_router(model.router)
        self.runners = [
            EngineRunner(
                create_engine(model.config, clock=loop.time, name=f"engine-{i}"), loop=loop
            )
            for i in range(model.replicas)
        ]
        self.records: list[ClientRecord] = []
        self.in_flight = 0

    def send(
        self, prompt: int, output: int, t_intended_s: float | None, on_done: Callable[[], None]
    ) -> None:
        now = self.loop.now_s
        record = ClientRecord(t_intended_s, now, prompt, output)
        self.records.append(record)
        runner = self.router.choose(self.runners)
        if self._full(runner, prompt):
            record.t_done_s = now
            record.status = self.queue.reject_status
            record.error_kind = "status"
            self.loop.call_soon(on_done)
            return
        self.in_flight += 1

        def done() -> None:
            self.in_flight -= 1
            on_done()

        sink = _Sink(record, self.loop, done)
        seq = EngineSequence(prompt_tokens=prompt, output_tokens=output, sink=sink)
        if self.overhead_s > 0:
            self.loop.call_later(self.overhead_s, runner.submit, seq)
        else:
            runner.submit(seq)

    def drop(self, t_intended_s: float, prompt: int, output: int) -> None:
        now = self.loop.now_s
        record = ClientRecord(t_intended_s, now, prompt, output, t_done_s=now)
        record.error_kind = "dropped"
        self.records.append(record)

    def _full(self, runner: EngineRunner, prompt: int) -> bool:
        """``target_stub.admission.check_queue``: the replica's waiting queue is at its bound."""
        bound = self.queue
        engine = runner.engine
        waiting = runner.outstanding - engine.num_running
        if bound.max_waiting_requests is not None and waiting >= bound.max_waiting_requests:
            return True
        if bound.max_waiting_tokens is not None:
            queued = engine.waiting_prompt_tokens
            return queued > 0 and queued + prompt > bound.max_waiting_tokens
        return False


def run_open_loop(
    fleet_model: FleetModel,
    arrivals_s: Sequence[float],
    lengths: Lengths,
    rng: np.random.Generator,
    *,
    max_in_flight: int | None = None,
    overhead_s: float = 0.0,
    until_s: float,
) -> list[ClientRecord]:
    """Send one request at each of ``arrivals_s`` (sorted); run until ``until_s``."""
    loop = SimLoop()
    fleet = _Fleet(fleet_model, loop, overhead_s)
    draws = lengths.draws(rng)
    times = iter(arrivals_s)
    cap = max_in_flight if max_in_flight is not None else math.inf

    def arrive(t_s: float) -> None:
        prompt, output = next(draws)
        if fleet.in_flight >= cap:
            fleet.drop(t_s, prompt, output)
        else:
            fleet.send(prompt, output, t_s, _nothing)
        schedule_next()

    def schedule_next() -> None:
        # one pending arrival at a time: the event heap stays small for long profiles
        t_s = next(times, None)
        if t_s is not None:
            loop.call_at(float(t_s), arrive, float(t_s))

    schedule_next()
    loop.run_until(until_s)
    return fleet.records


def run_closed_loop(
    fleet_model: FleetModel,
    users_at: Callable[[float], int],
    lengths: Lengths,
    rng: np.random.Generator,
    *,
    duration_s: float,
    think_time: ThinkTime | None = None,
    overhead_s: float = 0.0,
    until_s: float,
) -> list[ClientRecord]:
    """``users_at(t)`` closed-loop users (read each whole second) until ``duration_s``."""
    loop = SimLoop()
    users = _Users(
        _Fleet(fleet_model, loop, overhead_s),
        lengths.draws(rng),
        random.Random(int(rng.integers(0, 2**63))),
        think_time,
        duration_s,
    )
    for second in range(math.ceil(duration_s)):
        loop.call_at(float(second), users.tick, int(users_at(float(second))))
    loop.run_until(until_s)
    return users.fleet.records


class _Users:
    """Closed-loop users: request, wait for the reply, think, repeat."""

    def __init__(
        self,
        fleet: _Fleet,
        draws: Iterator[tuple[int, int]],
        think_rng: random.Random,
        think_time: ThinkTime | None,
        end_s: float,
    ) -> None:
        self.fleet = fleet
        self._draws = draws
        self._think_rng = think_rng
        self._think_time = think_time
        self._end_s = end_s
        self._active: list[int] = []  # the newest users are stopped first
        self._live: set[int] = set()
        self._ids = itertools.count()

    def tick(self, target: int) -> None:
        """Start or stop users to reach ``target``; a stopped user's request may finish."""
        loop = self.fleet.loop
        while len(self._active) < target:
            user = next(self._ids)
            self._active.append(user)
            self._live.add(user)
            loop.call_soon(self._request, user)
        while len(self._active) > max(target, 0):
            self._live.discard(self._active.pop())

    def _request(self, user: int) -> None:
        if user not in self._live or self.fleet.loop.now_s >= self._end_s:
            return
        prompt, output = next(self._draws)
        self.fleet.send(prompt, output, None, lambda: self._think(user))

    def _think(self, user: int) -> None:
        think = self._think_time
        pause_s = think.sample(self._think_rng) if think is not None else 0.0
        self.fleet.loop.call_later(pause_s, self._request, user)


def record_arrays(records: Sequence[ClientRecord]) -> dict[str, npt.NDArray[Any]]:
    """Columns of ``records`` as arrays (float with NaN for None; ``error_kind`` objects)."""

    def column(values: Sequence[float | None]) -> npt.NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    return {
        "t_intended_s": column([r.t_intended_s for r in records]),
        "t_sent_s": column([r.t_sent_s for r in records]),
        "t_first_token_s": column([r.t_first_token_s for r in records]),
        "t_last_token_s": column([r.t_last_token_s for r in records]),
        "t_done_s": column([r.t_done_s for r in records]),
        "prompt_tokens": column([r.prompt_tokens for r in records]),
        "output_tokens": column([r.output_tokens for r in records]),
        "status": np.array([r.status for r in records], dtype=np.int64),
        "error_kind": np.array([r.error_kind for r in records], dtype=object),
    }


def _nothing() -> None:
    return None
