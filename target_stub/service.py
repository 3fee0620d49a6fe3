"""What every route shares: the replica fleet, admission control and seeded randomness.

The fleet (:mod:`target_stub.cluster`: replicas, router, autoscaler, faults, metrics) is
built when the app's loop starts. All randomness (output lengths, text offsets,
embeddings, images, ids, error-rate faults) comes from generators seeded by
``StubConfig.seed``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection

import numpy as np

from target_stub.admission import Admission
from target_stub.cluster import Fleet
from target_stub.config import StubConfig
from target_stub.errors import ApiError
from target_stub.fleet_runtime import FleetRuntime
from target_stub.replica import Replica
from target_stub.runner import EngineRunner
from target_stub.text import TextSource

# Distinct sub-seeds so that, e.g., adding an embedding call does not shift the text offsets.
_TEXT_STREAM, _LENGTH_STREAM, _ID_STREAM, _VECTOR_STREAM, _IMAGE_STREAM, _FAULT_STREAM = range(6)


class StubService:
    """Replicas plus everything the handlers need; replicas start on the running loop."""

    def __init__(self, config: StubConfig, *, api_keys: Collection[str] | None) -> None:
        self.config = config
        self.model = config.engine.model
        self._runtime: FleetRuntime | None = None
        self.admission = Admission(
            overload=config.overload,
            rate_limits=config.rate_limits,
            api_keys=api_keys,
            clock=time.monotonic,
        )
        self.text = TextSource(random.Random(f"{config.seed}:{_TEXT_STREAM}"))
        self.length_rng = np.random.default_rng([config.seed, _LENGTH_STREAM])
        self.vector_rng = np.random.default_rng([config.seed, _VECTOR_STREAM])
        self.image_rng = random.Random(f"{config.seed}:{_IMAGE_STREAM}")
        self._ids = random.Random(f"{config.seed}:{_ID_STREAM}")
        self.created_s = int(time.time())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Build the fleet on ``loop`` (engines use its clock) and apply the start faults."""
        self._runtime = FleetRuntime.start(
            self.config.engine,
            self.config.fleet,
            loop=loop,
            faults=self.config.faults,
            rng=random.Random(f"{self.config.seed}:{_FAULT_STREAM}"),
        )

    @property
    def runtime(self) -> FleetRuntime:
        if self._runtime is None:
            raise ApiError(
                503, "The stub has not started yet.", type_="server_error", code="not_started"
            )
        return self._runtime

    @property
    def fleet(self) -> Fleet:
        return self.runtime.fleet

    @property
    def runners(self) -> list[EngineRunner]:
        """Every replica slot's runner, by index."""
        if self._runtime is None:
            return []
        return [replica.runner for replica in self._runtime.fleet.replicas]

    @property
    def alive(self) -> bool:
        """``/health``: some replica is not failed (a stalled one counts)."""
        return self._runtime is not None and self._runtime.fleet.live

    @property
    def ready(self) -> bool:
        """``/health/ready``: some replica is routed to."""
        return self._runtime is not None and self._runtime.fleet.ready

    def pick(self) -> Replica:
        """The replica for the next request (the fleet's router); 503 when none is ready."""
        return self.fleet.route()

    def admit(
        self, replica: Replica, key: str, *, prompt_tokens: int, charge_tokens: int
    ) -> dict[str, str]:
        """The replica's queue bound, then the key's rate limits; the ``x-ratelimit-*``
        headers. A refusal is counted in ``surgebench:rejections_total``."""
        try:
            self.admission.check_queue(replica.runner, prompt_tokens)
        except ApiError:
            self.fleet.count_rejection("queue_full")
            raise
        try:
            return self.admission.charge(key, charge_tokens)
        except ApiError:
            self.fleet.count_rejection("rate_limited")
            raise

    def new_id(self) -> str:
        """A 24-hex-digit id, seeded (reproducible run to run)."""
        return f"{self._ids.getrandbits(96):024x}"

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
