"""The fleet with its fault injector and metrics, started together on one loop.

The HTTP app creates it when its loop starts (the engines' timers need the loop) and hands
the admin and metrics routes a getter, since aiohttp routes are fixed before startup.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from target_stub.cluster import Fleet
from target_stub.engine_config import EngineConfig
from target_stub.fault_injector import FaultInjector
from target_stub.faults import FaultSpec
from target_stub.fleet_config import FleetConfig
from target_stub.metrics import FleetMetrics
from target_stub.runner import TimerLoop


@dataclass(frozen=True, slots=True)
class FleetRuntime:
    fleet: Fleet
    faults: FaultInjector
    metrics: FleetMetrics

    @classmethod
    def start(
        cls,
        engine_config: EngineConfig,
        config: FleetConfig,
        *,
        loop: TimerLoop,
        faults: Iterable[FaultSpec] = (),
        rng: random.Random | None = None,
    ) -> FleetRuntime:
        """Build the fleet on ``loop``, attach metrics, then apply (or schedule) ``faults``
        with ``after_s`` counted from now."""
        fleet = Fleet(engine_config, config, loop=loop, rng=rng)
        injector = FaultInjector(fleet)
        runtime = cls(fleet=fleet, faults=injector, metrics=FleetMetrics(fleet, injector))
        injector.apply_all(faults)
        return runtime

    def close(self) -> None:
        self.faults.close()
        self.fleet.close()
