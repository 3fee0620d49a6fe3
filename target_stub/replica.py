"""One replica of a fleet: an engine runner, its lifecycle state and its fault knobs.

The fleet (:mod:`target_stub.cluster`) owns the state transitions; faults set the knobs
(:meth:`Replica.set_slow_factor`, :meth:`Replica.set_stalled`,
:meth:`Replica.set_kv_capacity_frac`). ``abort_mode`` tells the HTTP layer's sink what a
killed replica's streams see when the sink gets ``on_finish(seq, "abort")``: ``"error"``
(a ``data: {"error": ...}`` chunk then ``data: [DONE]``) or ``"drop"`` (the connection is
closed without a word).
"""

from __future__ import annotations

from typing import Literal

from target_stub.engine import SEQ_DONE, Sequence
from target_stub.engines import AnyEngine
from target_stub.runner import EngineRunner, TimerHandle, TimerLoop

ReplicaState = Literal["starting", "ready", "draining", "failed", "stopped"]
REPLICA_STATES: tuple[ReplicaState, ...] = ("starting", "ready", "draining", "failed", "stopped")
KillMode = Literal["error", "drop"]


class Replica:
    """An engine runner with a lifecycle; ``index`` never changes for the fleet's life."""

    def __init__(self, index: int, engine: AnyEngine, *, loop: TimerLoop) -> None:
        self.index = index
        self.name = engine.name
        self.label = str(index)
        """Prometheus ``engine`` label, as vLLM numbers its engine cores."""
        self.runner = EngineRunner(engine, loop=loop)
        self.state: ReplicaState = "stopped"
        self.abort_mode: KillMode = "error"
        self.ready_at_s: float | None = None
        self.timer: TimerHandle | None = None
        self.kv_capacity_frac = 1.0
        self.routed_total = 0
        self.client_aborts_total = 0

    @property
    def engine(self) -> AnyEngine:
        return self.runner.engine

    @property
    def outstanding(self) -> int:
        return self.runner.outstanding

    @property
    def stalled(self) -> bool:
        return self.runner.stalled

    @property
    def slow_factor(self) -> float:
        return self.runner.slow_factor

    def submit(self, seq: Sequence) -> None:
        """Hand ``seq`` to this replica's engine (counted as a router choice)."""
        self.routed_total += 1
        self.runner.submit(seq)

    def abort(self, seq: Sequence) -> None:
        """The client went away: free the request's batch slot and KV blocks now (a no-op,
        and not counted, for a request that already finished)."""
        if seq.state != SEQ_DONE:
            self.client_aborts_total += 1
            self.runner.abort(seq)

    def set_slow_factor(self, factor: float) -> None:
        """Every engine step takes ``factor`` times as long (thermal throttling, a bad GPU)."""
        self.runner.slow_factor = factor

    def set_stalled(self, stalled: bool) -> None:
        """A hang: no step runs and streams freeze without an error; health stays 200."""
        if stalled and not self.runner.stalled:
            self.runner.stall()
        elif not stalled and self.runner.stalled:
            self.runner.resume()

    def set_kv_capacity_frac(self, frac: float) -> None:
        """Shrink (or restore) the KV cache to ``frac`` of the configured capacity; running
        sequences are preempted as needed (a preemption storm)."""
        self.kv_capacity_frac = frac
        capacity = self.engine.config.kv_capacity_tokens
        self.engine.resize_kv(max(self.engine.config.block_size_tokens, int(capacity * frac)))

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
