"""Open-loop arrivals: requests start at scheduled times, whatever the target is doing.

Closed-loop users wait for each reply before sending the next request, so a stalled server
also stalls the load and its latency never shows (coordinated omission). Here each Locust
process that runs requests owns one ``OpenLoopGenerator``: intended start times come from
``profiles.arrivals.ArrivalSchedule`` (Poisson, gamma or constant, seeded per process) at the
process's share of the rate; every request runs in its own greenlet; at ``--max-in-flight``
the arrival is recorded as ``dropped`` instead of waiting. Records carry ``t_intended_s`` so
latency counts from the intended start as well as from the actual send.

The rate is either ``--rate`` (split evenly over the processes) or a rate-mode profile's:
the shape calls :func:`publish_rate` on the master every tick, which tells each worker its
share; each process then follows the profile's own curve at that share
(:func:`process_rate_rps`), or the published value for adaptive profiles.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Final

import gevent
import numpy as np
from gevent import Greenlet

from locustfiles.api_request import ApiCall
from locustfiles.llm_client import LlmClient
from locustfiles.records import RequestRecord
from locustfiles.runtime import ProcessState, state_of
from profiles.arrivals import ArrivalSchedule

logger = logging.getLogger(__name__)

RATE_MESSAGE: Final = "surgebench_rate"
OPEN_LOOP_USER_CLASS: Final = "open_loop"
# How far ahead the schedule integrates the current rate: a published rate change takes
# effect within this much run time.
_HORIZON_S: Final = 0.05

CallFactory = Callable[[random.Random], ApiCall]


def publish_rate(environment: Any, rate_rps: float, stage: str | None) -> None:
    """Set the total open-loop arrival rate (req/s over all processes) and the current stage.

    Called by a rate-mode profile shape on the master every tick (and by the lifecycle once a
    second to re-send it). Distributed: each worker gets ``rate_rps / worker_count``;
    otherwise it applies locally.
    """
    state = state_of(environment)
    state.total_rate_rps = max(0.0, float(rate_rps))
    state.pushed_stage = stage
    runner = environment.runner
    if state.role == "master":
        fraction = 1.0 / max(int(runner.worker_count), 1)
        data = {"rate_rps": state.total_rate_rps * fraction, "fraction": fraction, "stage": stage}
        runner.send_message(RATE_MESSAGE, data)
    else:
        state.process_rate_rps = state.total_rate_rps
        state.process_fraction = 1.0


def on_rate_message(environment: Any, msg: Any, **_: Any) -> None:
    """Worker side of :func:`publish_rate`."""
    state = state_of(environment)
    state.process_rate_rps = max(0.0, float(msg.data["rate_rps"]))
    state.process_fraction = float(msg.data.get("fraction", 0.0))
    state.pushed_stage = msg.data.get("stage")


def process_rate_rps(state: ProcessState, t_s: float) -> float:
    """This process's arrival rate at run time ``t_s``.

    With a rate-mode profile, its exact curve times this process's share (ramps are followed
    continuously and the load ends with the profile, instead of following a once-a-second
    staircase of published values); otherwise, or for an adaptive profile only the master
    can follow, the rate last published.
    """
    profile = state.profile
    if profile is not None and profile.mode == "rate" and not state.profile_adaptive:
        return float(profile.target_at(t_s)) * state.process_fraction
    return state.process_rate_rps


class OpenLoopGenerator:
    """Schedules, dispatches and caps the open-loop requests of one process."""

    def __init__(
        self,
        *,
        state: ProcessState,
        client: LlmClient,
        call_factory: CallFactory,
        kind: str,
        cv: float,
        seed_key: tuple[int, int],
        max_in_flight: int,
    ) -> None:
        self._state = state
        self._client = client
        self._factory = call_factory
        self._rng = random.Random(f"open-loop-{seed_key[0]}-{seed_key[1]}")
        assert state.clock is not None
        self._clock = state.clock
        self._schedule = ArrivalSchedule(
            lambda t_s: process_rate_rps(state, t_s),
            kind=kind,  # type: ignore[arg-type]
            seed=np.random.default_rng(list(seed_key)),
            cv=cv,
            start_s=self._clock.now_s(),
        )
        self._max_in_flight = max_in_flight
        self._in_flight: set[Greenlet[Any, Any]] = set()
        self._loop: Greenlet[Any, Any] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def start(self) -> None:
        self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop scheduling and cut the requests still in flight (recorded as aborted)."""
        if self._loop is not None:
            self._loop.kill(block=True)
            self._loop = None
        gevent.killall(list(self._in_flight), block=True, timeout=5)

    def _run(self) -> None:
        clock = self._clock
        while True:
            now_s = clock.now_s()
            t_s = self._schedule.next_before(now_s + _HORIZON_S)
            if t_s is None:
                gevent.sleep(max(0.0, now_s + _HORIZON_S - clock.now_s()))
                continue
            wait_s = t_s - clock.now_s()
            if wait_s > 0:
                gevent.sleep(wait_s)
            api_call = self._factory(self._rng)
            if len(self._in_flight) >= self._max_in_flight:
                self._drop(t_s, api_call)
                continue
            greenlet = gevent.spawn(self._one, t_s, api_call)
            self._in_flight.add(greenlet)
            greenlet.link(self._in_flight.discard)

    def _one(self, t_intended_s: float, api_call: ApiCall) -> None:
        outcome = self._client.call(
            api_call, user_class=OPEN_LOOP_USER_CLASS, t_intended_s=t_intended_s
        )
        record = outcome.record
        self._state.ledger.add_lag_ms((record.t_sent_s - t_intended_s) * 1000.0)

    def _drop(self, t_intended_s: float, api_call: ApiCall) -> None:
        state = self._state
        now_s = round(self._clock.now_s(), 6)
        state.ledger.add_dropped()
        record = RequestRecord(
            request_id=f"{state.process_id}-{next(state.ids)}",
            process_id=state.process_id,
            user_class=OPEN_LOOP_USER_CLASS,
            endpoint=api_call.endpoint,
            stage=state.stage_at(t_intended_s),
            tier=api_call.tier,
            t_intended_s=round(t_intended_s, 6),
            t_sent_s=now_s,
            t_first_chunk_s=None,
            t_first_token_s=None,
            t_last_token_s=None,
            t_done_s=now_s,
            prompt_tokens=None,
            output_tokens=0,
            n_chunks=0,
            itl_s=None,
            status=0,
            error_kind="dropped",
            error=f"in-flight cap {self._max_in_flight} reached",
            retries=0,
        )
        if state.sink is not None:
            state.sink.add(record)
