"""Autoscaler emulation: pure decisions from fleet signals on an injected clock.

Modelled on a Kubernetes HPA in front of GPU replicas, reduced to what a surge rehearsal
needs:

- **Scale up** by one replica when the queue (mean waiting requests per ready replica) or
  KV-cache pressure (mean KV use of the ready replicas) has stayed at or above its
  threshold at every evaluation for ``window_s``; the window then starts over, so a
  sustained surge adds one replica per window up to ``max_replicas``.
- The new replica serves only after ``provisioning_delay_s`` (cold start: node, image and
  model load); the fleet applies that delay, this module only decides.
- **Scale down** by one replica when, for ``cooldown_s``, nothing has waited and the load
  would fit on one replica fewer: the batch-slot use (running / ``max_num_seqs``) and the KV
  use of the ready replicas, scaled by ``ready / (ready - 1)``, both stay at or below
  ``scale_down_usage_frac`` (the HPA rule ``desired = current * usage / target``). The last
  scaling action must also be at least ``cooldown_s`` old (HPA's scale-down
  stabilisation); never below ``min_replicas``, never while a replica is still starting.
- Fewer live replicas than ``min_replicas`` (a killed replica that does not come back):
  scale up at once.

Every decision carries a low-cardinality ``reason`` (a metrics label) and a sentence
``detail`` (for the log and ``GET /admin/state``).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

logger = logging.getLogger(__name__)

Action = Literal["scale_up", "scale_down"]
Reason = Literal["queueing", "kv_pressure", "below_min", "idle"]
DECISION_KINDS: tuple[tuple[Action, Reason], ...] = (
    ("scale_up", "queueing"),
    ("scale_up", "kv_pressure"),
    ("scale_up", "below_min"),
    ("scale_down", "idle"),
)

_RECENT_DECISIONS = 50


class AutoscalerConfig(BaseModel):
    """Autoscaler settings; off unless ``enabled``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(4, ge=1)
    interval_s: float = Field(1.0, gt=0, description="How often the signals are evaluated.")
    window_s: float = Field(30.0, ge=0, description="How long pressure must last to scale up.")
    scale_up_waiting_per_replica: float = Field(
        4.0,
        gt=0,
        description="Mean waiting requests per ready replica that counts as queueing. "
        "Arrivals wait until the next engine step, so a small queue is normal at any load.",
    )
    scale_up_kv_frac: float = Field(0.9, gt=0, le=1)
    scale_down_usage_frac: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Batch-slot and KV use, projected on one replica fewer, that allows "
        "a scale-down.",
    )
    provisioning_delay_s: float = Field(120.0, ge=0, description="Cold start of a new replica.")
    cooldown_s: float = Field(300.0, ge=0, description="Calm needed before a scale-down.")

    @model_validator(mode="after")
    def _check(self) -> AutoscalerConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas={self.min_replicas} is above max_replicas={self.max_replicas}"
            )
        return self


@dataclass(frozen=True, slots=True)
class FleetSignals:
    """What the autoscaler sees at one evaluation."""

    ready: int
    starting: int
    waiting_requests: int
    """Waiting requests summed over the ready replicas."""
    kv_usage_frac: float
    """Mean KV-cache use of the ready replicas (0 when none is ready)."""
    batch_usage_frac: float = 0.0
    """Mean running / ``max_num_seqs`` of the ready replicas (0 when none is ready)."""


@dataclass(frozen=True, slots=True)
class Decision:
    t_s: float
    action: Action
    reason: Reason
    detail: str
    replicas_before: int
    """Ready plus starting replicas when the decision was taken."""


class Autoscaler:
    """Decides; the fleet acts. Holds only the timing state of the thresholds."""

    def __init__(self, config: AutoscalerConfig) -> None:
        self.config = config
        self._pressure_since_s: float | None = None
        self._calm_since_s: float | None = None
        self._last_action_s: float | None = None
        self.decisions_total: dict[tuple[Action, Reason], int] = {}
        self.recent: deque[Decision] = deque(maxlen=_RECENT_DECISIONS)

    def reconfigure(self, config: AutoscalerConfig) -> None:
        """New settings; the windows in progress start over."""
        self.config = config
        self._pressure_since_s = self._calm_since_s = None

    def decide(self, now_s: float, signals: FleetSignals) -> Decision | None:
        """The action to take at ``now_s``, or None; a decision is logged and counted."""
        cfg = self.config
        live = signals.ready + signals.starting
        pressure = self._pressure(signals)
        calm = self._calm(signals)
        if pressure is None:
            self._pressure_since_s = None
        elif self._pressure_since_s is None:
            self._pressure_since_s = now_s
        if not calm:
            self._calm_since_s = None
        elif self._calm_since_s is None:
            self._calm_since_s = now_s

        if live < cfg.min_replicas:
            detail = f"{live} live replicas is below min_replicas={cfg.min_replicas}"
            return self._record(now_s, "scale_up", "below_min", detail, live)
        if (
            pressure is not None
            and self._pressure_since_s is not None
            and now_s - self._pressure_since_s >= cfg.window_s
            and live < cfg.max_replicas
        ):
            reason, detail = pressure
            self._pressure_since_s = now_s
            return self._record(now_s, "scale_up", reason, f"{detail} for {cfg.window_s} s", live)
        if (
            self._calm_since_s is not None
            and now_s - self._calm_since_s >= cfg.cooldown_s
            and (self._last_action_s is None or now_s - self._last_action_s >= cfg.cooldown_s)
            and signals.starting == 0
            and signals.ready > max(cfg.min_replicas, 1)
        ):
            detail = (
                f"no waiting requests and batch/KV use would stay <= "
                f"{cfg.scale_down_usage_frac} on {signals.ready - 1} replicas for "
                f"{cfg.cooldown_s} s"
            )
            self._calm_since_s = now_s
            return self._record(now_s, "scale_down", "idle", detail, live)
        return None

    def _calm(self, signals: FleetSignals) -> bool:
        if signals.waiting_requests or signals.ready < 2:
            return False
        scale = signals.ready / (signals.ready - 1)
        projected = max(signals.batch_usage_frac, signals.kv_usage_frac) * scale
        return projected <= self.config.scale_down_usage_frac

    def _pressure(self, signals: FleetSignals) -> tuple[Reason, str] | None:
        cfg = self.config
        per_replica = signals.waiting_requests / max(signals.ready, 1)
        if per_replica >= cfg.scale_up_waiting_per_replica:
            return "queueing", (
                f"{per_replica:.1f} waiting requests per ready replica >= "
                f"{cfg.scale_up_waiting_per_replica}"
            )
        if signals.ready and signals.kv_usage_frac >= cfg.scale_up_kv_frac:
            return "kv_pressure", (f"KV use {signals.kv_usage_frac:.2f} >= {cfg.scale_up_kv_frac}")
        return None

    def _record(
        self, now_s: float, action: Action, reason: Reason, detail: str, live: int
    ) -> Decision:
        decision = Decision(
            t_s=now_s, action=action, reason=reason, detail=detail, replicas_before=live
        )
        self._last_action_s = now_s
        key = (action, reason)
        self.decisions_total[key] = self.decisions_total.get(key, 0) + 1
        self.recent.append(decision)
        logger.info("autoscaler: %s (%s): %s", action, reason, detail)
        return decision
