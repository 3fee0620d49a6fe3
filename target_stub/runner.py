"""Drives an engine on the asyncio loop with one timer per engine step.

Never a sleep per token per stream: at the end of each step the engine calls every
sequence's sink synchronously, then the next step is planned at once. Step ends are
chained from the previous *planned* end (not from when the timer fired), so the timer's
resolution (uvloop/libuv timers are millisecond-grained) causes jitter but no drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from target_stub.engine import SEQ_DONE, Sequence
from target_stub.engines import AnyEngine

logger = logging.getLogger(__name__)

# A step that starts later than this after the previous planned end restarts the chain
# from "now" (the loop was busy): chaining further would emit tokens in a burst.
_MAX_CATCH_UP_S = 0.002


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class TimerLoop(Protocol):
    """What the runner needs of an event loop: an asyncio loop, or a simulated-time
    :class:`target_stub.sim_loop.SimLoop` (the same fleet code then runs without a network)."""

    def time(self) -> float: ...
    def call_soon(self, callback: Callable[..., object], *args: Any) -> TimerHandle: ...
    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any
    ) -> TimerHandle: ...
    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle: ...


class EngineRunner:
    """One replica's step loop. Faults (slow, stall, kill) act here."""

    def __init__(self, engine: AnyEngine, *, loop: TimerLoop) -> None:
        self.engine = engine
        self._loop = loop
        self._timer: TimerHandle | None = None
        self._step_end_s: float | None = None
        self._pending: set[Sequence] = set()
        self._frontend_s = 0.0 if engine.config.fixed_timing else engine.config.frontend_ms / 1e3
        self.slow_factor = 1.0
        self.stalled = False
        self.closed = False

    @property
    def frontend_s(self) -> float:
        """Delay between accepting a request and its arrival in the engine (seconds)."""
        return self._frontend_s

    @property
    def outstanding(self) -> int:
        """Requests accepted and not finished (in the frontend, waiting or running)."""
        return len(self._pending) + self.engine.num_running + self.engine.num_waiting

    def submit(self, seq: Sequence) -> None:
        """Accept a request; it reaches the engine after the frontend delay."""
        if self._frontend_s > 0:
            self._pending.add(seq)
            self._loop.call_later(self._frontend_s, self._add, seq)
        else:
            self._add(seq)

    def abort(self, seq: Sequence) -> None:
        """The client went away: release everything the request holds, now."""
        if seq in self._pending:
            self._pending.discard(seq)
            seq.state = SEQ_DONE  # _add will skip it
        else:
            self.engine.abort(seq)

    def stall(self) -> None:
        """Freeze: no step runs, streams hang without an error (a hung GPU)."""
        self.stalled = True
        self._cancel_timer()

    def resume(self) -> None:
        self.stalled = False
        self._step_end_s = None
        self._kick()

    def kill(self) -> list[Sequence]:
        """Drop every request (sinks get ``on_finish(seq, "abort")``); the runner stays usable."""
        self._cancel_timer()
        self._step_end_s = None
        victims = list(self._pending)
        self._pending.clear()
        for seq in victims:
            seq.state = SEQ_DONE
            seq.sink.on_finish(seq, "abort")
        return victims + self.engine.abort_all()

    def close(self) -> None:
        self.closed = True
        self._cancel_timer()

    def _add(self, seq: Sequence) -> None:
        if seq.state == SEQ_DONE or self.closed:
            return
        self._pending.discard(seq)
        self.engine.add(seq)
        if self._timer is not None and self.engine.replan_on_add:
            self._cancel_timer()
        self._kick()

    def _kick(self) -> None:
        if self._timer is None and not self.stalled and not self.closed:
            self._timer = self._loop.call_soon(self._begin_step)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _begin_step(self) -> None:
        self._timer = None
        if self.stalled or self.closed:
            return
        duration_s = self.engine.plan_step()
        if duration_s is None:
            self._step_end_s = None
            return
        now = self._loop.time()
        start = now
        prev_end = self._step_end_s
        if (
            prev_end is not None
            and not self.engine.replan_on_add
            and now - prev_end < _MAX_CATCH_UP_S
        ):
            start = prev_end
        self._step_end_s = start + duration_s * self.slow_factor
        self._timer = self._loop.call_at(self._step_end_s, self._end_step)

    def _end_step(self) -> None:
        self._timer = None
        try:
            self.engine.complete_step()
        except Exception:  # a sink bug must not silently stop the replica
            logger.exception("engine %s: step failed; continuing", self.engine.name)
        self._begin_step()
