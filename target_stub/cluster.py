"""A fleet of emulated replicas in one process: lifecycle, routing, scaling, error injection.

Each replica is an :class:`~target_stub.runner.EngineRunner` around its own engine, with a
lifecycle state:

``starting``  provisioned, not serving yet (cold start, startup delay); not routed to
``ready``     routed to (a stalled or slowed replica is still ``ready``: that is the trap)
``draining``  scaled down: finishes its in-flight requests, gets no new ones, then stops
``failed``    killed: its requests were dropped; it may restart after a delay
``stopped``   not provisioned (a slot kept so replica indices never change)

:meth:`Fleet.submit` picks a ready replica with the router and returns it; with none
ready it raises an OpenAI-shaped 503. Faults (:mod:`target_stub.faults`) and the
autoscaler (:mod:`target_stub.autoscaler`) act through the methods here. Everything is
timed on the injected loop, so the same fleet runs on asyncio or in simulated time
(:class:`target_stub.sim_loop.SimLoop`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Literal

from target_stub.autoscaler import Autoscaler, AutoscalerConfig, Decision, FleetSignals
from target_stub.engine import Sequence
from target_stub.engine_config import EngineConfig
from target_stub.engines import AnyEngine, create_engine
from target_stub.errors import ApiError, overloaded, rate_limited, retry_headers
from target_stub.fleet_config import FleetConfig
from target_stub.replica import KillMode, Replica, ReplicaState
from target_stub.router import create_router
from target_stub.runner import TimerHandle, TimerLoop

logger = logging.getLogger(__name__)

RejectionReason = Literal["no_ready_replica", "injected_error"]
MAX_REPLICAS = 256
# How often a draining replica is checked for its last request (seconds).
_DRAIN_POLL_S = 0.05


class ReplicaIndexError(ValueError):
    """A replica index that does not exist or cannot take the action (HTTP 404/409)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class Fleet:
    """Replicas of one model behind a router, on one loop."""

    def __init__(
        self,
        engine_config: EngineConfig,
        config: FleetConfig,
        *,
        loop: TimerLoop,
        rng: random.Random | None = None,
    ) -> None:
        self.engine_config = engine_config
        self.config = config
        self.loop = loop
        self.router = create_router(config.router)
        self.replicas: list[Replica] = []
        self.rejections: dict[str, int] = {}
        self.autoscaler = Autoscaler(config.autoscaler)
        self.started_s = loop.time()
        self._rng = rng if rng is not None else random.Random(config.seed)
        self._ready: list[Replica] = []
        self._error_rates: dict[int | None, tuple[float, tuple[int, ...]]] = {}
        self._listeners: list[Callable[[Replica], None]] = []
        self._tick_timer: TimerHandle | None = None
        self._drain_timer: TimerHandle | None = None
        self.closed = False
        for _ in range(config.replicas):
            self._provision(cold_start_s=0.0)
        self._schedule_tick()

    # -- requests (hot path) -------------------------------------------------------
    def route(self) -> Replica:
        """Choose the replica for the next request; ApiError 503 when none is ready, or the
        error of an active error-rate fault. The caller then calls ``replica.submit``."""
        while True:
            ready = self._ready
            if not ready:
                self._reject("no_ready_replica")
                raise self._no_replica_error()
            replica = self.router.choose(ready)
            if not replica.runner.closed:
                break
            # Closed behind the fleet's back (shutdown, or a test): a dead replica.
            self._set_state(replica, "failed")
        if self._error_rates:
            self._maybe_inject_error(replica)
        return replica

    def submit(self, seq: Sequence) -> Replica:
        """Route ``seq`` and hand it to the chosen replica's engine; returns the replica."""
        replica = self.route()
        replica.submit(seq)
        return replica

    def count_rejection(self, reason: str) -> None:
        """Count a request the HTTP layer refused (queue full, rate limit, ...)."""
        self._reject(reason)

    # -- state ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Some replica serves (``/health/ready``)."""
        return any(not r.runner.closed for r in self._ready)

    @property
    def live(self) -> bool:
        """Some provisioned replica is not failed (``/health``; a stalled one counts)."""
        return any(
            r.state in ("starting", "ready", "draining") and not r.runner.closed
            for r in self.replicas
        )

    def count(self, state: ReplicaState) -> int:
        return sum(1 for r in self.replicas if r.state == state)

    def replica(self, index: int) -> Replica:
        if not 0 <= index < len(self.replicas):
            raise ReplicaIndexError(
                f"Unknown replica {index}; known: 0..{len(self.replicas) - 1}", status=404
            )
        return self.replicas[index]

    def signals(self) -> FleetSignals:
        ready = self._ready
        n = max(len(ready), 1)
        max_seqs = self.engine_config.max_num_seqs
        return FleetSignals(
            ready=len(ready),
            starting=self.count("starting"),
            waiting_requests=sum(r.engine.num_waiting for r in ready),
            kv_usage_frac=sum(r.engine.kv_usage_frac for r in ready) / n,
            batch_usage_frac=sum(r.engine.num_running for r in ready) / (n * max_seqs),
        )

    def add_replica_listener(self, listener: Callable[[Replica], None]) -> None:
        """Call ``listener`` for every replica slot, now and when one is created."""
        self._listeners.append(listener)
        for replica in self.replicas:
            listener(replica)

    # -- lifecycle -------------------------------------------------------------------------
    def kill(self, index: int, *, mode: KillMode) -> int:
        """Kill a replica: its requests end (error chunk or dropped, per ``mode``); returns
        how many were in flight."""
        replica = self.replica(index)
        if replica.state in ("failed", "stopped"):
            raise ReplicaIndexError(f"Replica {index} is {replica.state}", status=409)
        replica.cancel_timer()
        replica.abort_mode = mode
        self._set_state(replica, "stopped" if replica.state == "draining" else "failed")
        victims = replica.runner.kill()
        logger.warning(
            "replica %d killed (%s mode); %d requests dropped", index, mode, len(victims)
        )
        return len(victims)

    def restart(self, index: int, *, cold_start_s: float = 0.0) -> None:
        """Bring a failed replica back after ``cold_start_s`` (no-op if it is not failed)."""
        replica = self.replica(index)
        if replica.state != "failed":
            return
        self._start(replica, cold_start_s)
        logger.info("replica %d restarting; serves in %.3g s", index, cold_start_s)

    def hold_not_ready(self, index: int | None, delay_s: float) -> None:
        """Startup delay: the replica(s) are not routed to for ``delay_s``; in-flight
        requests continue."""
        targets = self.replicas if index is None else [self.replica(index)]
        for replica in targets:
            if replica.state in ("starting", "ready"):
                ready_at = self.loop.time() + delay_s
                if replica.ready_at_s is not None:
                    ready_at = max(ready_at, replica.ready_at_s)
                self._start(replica, ready_at - self.loop.time())

    def scale_to(self, replicas: int, *, cold_start_s: float | None = None) -> None:
        """Provision or retire replicas until ``replicas`` are starting or ready."""
        if not 0 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas={replicas} is outside 0..{MAX_REPLICAS}")
        delay = (
            self.config.autoscaler.provisioning_delay_s if cold_start_s is None else cold_start_s
        )
        live = [r for r in self.replicas if r.state in ("starting", "ready")]
        for _ in range(replicas - len(live)):
            self._provision(cold_start_s=delay)
        for _ in range(len(live) - replicas):
            self._retire_one()
        logger.info("fleet scaled to %d replicas (cold start %.3g s)", replicas, delay)

    def configure_autoscaler(self, config: AutoscalerConfig) -> None:
        self.config = self.config.model_copy(update={"autoscaler": config})
        self.autoscaler.reconfigure(config)
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        self._schedule_tick()
        logger.info("autoscaler reconfigured: %s", config.model_dump())

    def set_error_rate(self, index: int | None, rate_frac: float, codes: Iterable[int]) -> None:
        """Fail ``rate_frac`` of the requests routed to a replica (None: every request)."""
        if index is not None:
            self.replica(index)
        if rate_frac <= 0:
            self._error_rates.pop(index, None)
        else:
            self._error_rates[index] = (rate_frac, tuple(codes))

    def close(self) -> None:
        self.closed = True
        for timer in (self._tick_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        for replica in self.replicas:
            replica.cancel_timer()
            replica.runner.close()

    # -- internals -------------------------------------------------------------------------
    def _provision(self, *, cold_start_s: float) -> Replica:
        replica = next((r for r in self.replicas if r.state == "stopped"), None)
        if replica is None:
            if len(self.replicas) >= MAX_REPLICAS:
                raise ValueError(f"a fleet has at most {MAX_REPLICAS} replicas")
            index = len(self.replicas)
            engine: AnyEngine = create_engine(
                self.engine_config, clock=self.loop.time, name=f"engine-{index}"
            )
            replica = Replica(index, engine, loop=self.loop)
            self.replicas.append(replica)
            for listener in self._listeners:
                listener(replica)
        self._start(replica, cold_start_s)
        return replica

    def _start(self, replica: Replica, cold_start_s: float) -> None:
        replica.cancel_timer()
        if cold_start_s <= 0:
            replica.ready_at_s = None
            self._set_state(replica, "ready")
            return
        replica.ready_at_s = self.loop.time() + cold_start_s
        self._set_state(replica, "starting")
        replica.timer = self.loop.call_later(cold_start_s, self._become_ready, replica)

    def _become_ready(self, replica: Replica) -> None:
        replica.timer = None
        replica.ready_at_s = None
        if replica.state == "starting" and not self.closed:
            self._set_state(replica, "ready")
            logger.info("replica %d ready", replica.index)

    def _retire_one(self) -> Replica | None:
        starting = [r for r in self.replicas if r.state == "starting"]
        if starting:
            victim = starting[-1]
            victim.cancel_timer()
            self._set_state(victim, "stopped")
            return victim
        ready = self._ready
        if not ready:
            return None
        victim = min(reversed(ready), key=lambda r: r.outstanding)
        self._set_state(victim, "draining")
        self._check_draining()
        return victim

    def _check_draining(self) -> None:
        self._drain_timer = None
        draining = False
        for replica in self.replicas:
            if replica.state == "draining":
                if replica.outstanding == 0:
                    self._set_state(replica, "stopped")
                    logger.info("replica %d drained and stopped", replica.index)
                else:
                    draining = True
        if draining and not self.closed:
            self._drain_timer = self.loop.call_later(_DRAIN_POLL_S, self._check_draining)

    def _set_state(self, replica: Replica, state: ReplicaState) -> None:
        replica.state = state
        self._ready = [r for r in self.replicas if r.state == "ready"]

    def _schedule_tick(self) -> None:
        cfg = self.config.autoscaler
        if cfg.enabled and not self.closed:
            self._tick_timer = self.loop.call_later(cfg.interval_s, self._tick)

    def _tick(self) -> None:
        self._tick_timer = None
        decision = self.autoscaler.decide(self.loop.time(), self.signals())
        if decision is not None:
            self._apply(decision)
        self._schedule_tick()

    def _apply(self, decision: Decision) -> None:
        if decision.action == "scale_up":
            replica = self._provision(cold_start_s=self.config.autoscaler.provisioning_delay_s)
            logger.info("autoscaler provisioned replica %d", replica.index)
        else:
            victim = self._retire_one()
            if victim is not None:
                logger.info("autoscaler retiring replica %d", victim.index)

    def _reject(self, reason: str) -> None:
        self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def _maybe_inject_error(self, replica: Replica) -> None:
        for key in (None, replica.index):
            spec = self._error_rates.get(key)
            if spec is not None and self._rng.random() < spec[0]:
                self._reject("injected_error")
                raise injected_error(self._rng.choice(spec[1]))

    def _no_replica_error(self) -> ApiError:
        starts = [r.ready_at_s for r in self.replicas if r.ready_at_s is not None]
        retry_after_s = max(min(starts) - self.loop.time(), 0.0) if starts else 1.0
        states = ", ".join(
            f"{self.count(s)} {s}" for s in ("starting", "failed", "draining") if self.count(s)
        )
        if self.live:
            message, code = "No replica of the model is ready", "no_ready_replica"
        else:
            message, code = "No engine replica is alive", "no_replica"
        return ApiError(
            503,
            f"{message} ({states or 'none provisioned'}); please try again later.",
            type_="server_error",
            code=code,
            headers=retry_headers(retry_after_s),
        )


def injected_error(status: int) -> ApiError:
    """The OpenAI-shaped error of an error-rate fault answering ``status``."""
    if status == 429:
        return rate_limited(
            "Rate limit reached (injected fault); please retry after a short wait.",
            kind="requests",
            retry_after_s=1.0,
            headers={},
        )
    if status == 503:
        return overloaded(retry_after_s=1.0)
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    return ApiError(status, f"Injected fault: status {status}.", type_=type_, code="injected_fault")
