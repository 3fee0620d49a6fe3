"""Applies, schedules and clears faults (:mod:`target_stub.faults`) on a fleet.

Faults on one replica combine: slow factors multiply, any stall stalls, the smallest KV
fraction wins, error rates combine as independent draws. Each replica's knobs are
recomputed from the faults still active whenever one starts or ends, so clearing one
fault never undoes another.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from target_stub.cluster import Fleet, ReplicaIndexError
from target_stub.faults import (
    ErrorRateFault,
    FaultSpec,
    KillFault,
    ShrinkKvFault,
    SlowFault,
    StallFault,
    StartupDelayFault,
)
from target_stub.runner import TimerHandle

logger = logging.getLogger(__name__)

FaultStatus = Literal["scheduled", "active"]


@dataclass(eq=False)
class AppliedFault:
    """A fault the injector knows about; times are seconds since the fleet started."""

    id: int
    spec: FaultSpec
    status: FaultStatus
    t_submitted_s: float
    t_active_s: float | None = None
    t_ends_s: float | None = None
    timer: TimerHandle | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "t_submitted_s": _ms(self.t_submitted_s),
            "t_active_s": _ms(self.t_active_s),
            "t_ends_s": _ms(self.t_ends_s),
            "spec": self.spec.model_dump(),
        }


def _ms(t_s: float | None) -> float | None:
    """Seconds rounded to the millisecond (the loop clock's useful resolution)."""
    return None if t_s is None else round(t_s, 3)


class FaultInjector:
    """Every fault of one fleet, by id (ids count up from 1 and are never reused)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.faults: dict[int, AppliedFault] = {}
        self.applied_total: dict[str, int] = {}
        self._next_id = 1

    def _now_s(self) -> float:
        return self.fleet.loop.time() - self.fleet.started_s

    def apply(self, spec: FaultSpec) -> AppliedFault:
        """Schedule ``spec`` (or apply it now when ``after_s`` is 0).

        Raises :class:`~target_stub.cluster.ReplicaIndexError` for a replica that does not
        exist, or cannot take an immediate fault (killing a failed replica).
        """
        target = getattr(spec, "replica", None)
        if target is not None:
            self.fleet.replica(target)
        fault = AppliedFault(
            id=self._next_id, spec=spec, status="scheduled", t_submitted_s=self._now_s()
        )
        self._next_id += 1
        if spec.after_s > 0:
            self.faults[fault.id] = fault
            fault.timer = self.fleet.loop.call_later(spec.after_s, self._activate_later, fault)
            logger.info("fault %d scheduled in %.3g s: %s", fault.id, spec.after_s, spec)
        else:
            self._activate(fault)
        return fault

    def apply_all(self, specs: Iterable[FaultSpec]) -> list[AppliedFault]:
        return [self.apply(spec) for spec in specs]

    def clear(self, fault_id: int) -> AppliedFault:
        """End one fault (KeyError if unknown); a cleared kill restarts its replica."""
        fault = self.faults.pop(fault_id)
        self._end(fault, restart=True)
        logger.info("fault %d cleared", fault_id)
        return fault

    def clear_all(self) -> int:
        ids = list(self.faults)
        for fault_id in ids:
            self.clear(fault_id)
        return len(ids)

    def close(self) -> None:
        """Cancel every pending timer (shutdown); faults keep their effect."""
        for fault in self.faults.values():
            if fault.timer is not None:
                fault.timer.cancel()
                fault.timer = None

    def restore(self, index: int, *, cold_start_s: float = 0.0) -> list[AppliedFault]:
        """Clear every fault aimed at replica ``index`` and restart it if it is failed."""
        self.fleet.replica(index)
        mine = [f for f in self.faults.values() if getattr(f.spec, "replica", None) == index]
        for fault in mine:
            del self.faults[fault.id]
            self._end(fault, restart=False)
        self.fleet.restart(index, cold_start_s=cold_start_s)
        logger.info("replica %d restored (%d faults cleared)", index, len(mine))
        return mine

    def active_counts(self) -> dict[tuple[str, str], int]:
        """Active faults by (kind, engine label or "all")."""
        counts: dict[tuple[str, str], int] = {}
        for fault in self.faults.values():
            if fault.status == "active":
                target = getattr(fault.spec, "replica", None)
                key = (fault.spec.kind, "all" if target is None else str(target))
                counts[key] = counts.get(key, 0) + 1
        return counts

    # -- internals ---------------------------------------------------------------------
    def _activate_later(self, fault: AppliedFault) -> None:
        fault.timer = None
        if self.faults.get(fault.id) is not fault:
            return
        del self.faults[fault.id]
        try:
            self._activate(fault)
        except ReplicaIndexError as exc:
            logger.error("scheduled fault %d not applied: %s", fault.id, exc)

    def _activate(self, fault: AppliedFault) -> None:
        spec = fault.spec
        now = self._now_s()
        lifetime: float | None = None
        if isinstance(spec, KillFault):
            self.fleet.kill(spec.replica, mode=spec.mode)
            lifetime = spec.restart_after_s
        elif isinstance(spec, StartupDelayFault):
            self.fleet.hold_not_ready(spec.replica, spec.delay_s)
            lifetime = spec.delay_s
        else:
            lifetime = spec.duration_s
        fault.status = "active"
        fault.t_active_s = now
        fault.t_ends_s = None if lifetime is None else now + lifetime
        self.faults[fault.id] = fault
        self.applied_total[spec.kind] = self.applied_total.get(spec.kind, 0) + 1
        self._recompute(spec)
        if lifetime is not None:
            fault.timer = self.fleet.loop.call_later(lifetime, self._expire, fault)
        logger.warning("fault %d active: %s", fault.id, spec)

    def _expire(self, fault: AppliedFault) -> None:
        fault.timer = None
        if self.faults.pop(fault.id, None) is fault:
            self._end(fault, restart=True)
            logger.info("fault %d ended", fault.id)

    def _end(self, fault: AppliedFault, *, restart: bool) -> None:
        if fault.timer is not None:
            fault.timer.cancel()
            fault.timer = None
        spec = fault.spec
        if fault.status != "active":
            return
        if isinstance(spec, KillFault) and restart:
            self.fleet.restart(spec.replica, cold_start_s=spec.cold_start_s)
        self._recompute(spec)

    def _recompute(self, changed: FaultSpec) -> None:
        if isinstance(changed, ErrorRateFault):
            self._recompute_error_rate(changed.replica)
            return
        if not isinstance(changed, SlowFault | StallFault | ShrinkKvFault):
            return
        index = changed.replica
        replica = self.fleet.replica(index)
        specs = [
            f.spec
            for f in self.faults.values()
            if f.status == "active" and getattr(f.spec, "replica", None) == index
        ]
        replica.set_slow_factor(math.prod(s.factor for s in specs if isinstance(s, SlowFault)))
        replica.set_stalled(any(isinstance(s, StallFault) for s in specs))
        kv = min((s.kv_capacity_frac for s in specs if isinstance(s, ShrinkKvFault)), default=1.0)
        if kv != replica.kv_capacity_frac:
            replica.set_kv_capacity_frac(kv)

    def _recompute_error_rate(self, target: int | None) -> None:
        specs = [
            f.spec
            for f in self.faults.values()
            if f.status == "active"
            and isinstance(f.spec, ErrorRateFault)
            and f.spec.replica == target
        ]
        keep = math.prod(1.0 - s.rate_frac for s in specs)
        codes = [code for s in specs for code in s.status_codes]
        self.fleet.set_error_rate(target, 1.0 - keep, codes)
