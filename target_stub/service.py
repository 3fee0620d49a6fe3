"""What every route shares: the replicas, admission control and the app's seeded randomness.

One ``EngineRunner`` per replica; requests go round-robin over the live ones (the fleet
with routers, autoscaling and faults is a later layer). All randomness (output lengths, text
offsets, embeddings, images, ids) comes from generators seeded by ``StubConfig.seed``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Collection

import numpy as np

from target_stub.admission import Admission
from target_stub.config import StubConfig
from target_stub.engines import create_engine
from target_stub.errors import ApiError
from target_stub.runner import EngineRunner
from target_stub.text import TextSource

# Distinct sub-seeds so that, e.g., adding an embedding call does not shift the text offsets.
_TEXT_STREAM, _LENGTH_STREAM, _ID_STREAM, _VECTOR_STREAM, _IMAGE_STREAM = range(5)


class StubService:
    """Replicas plus everything the handlers need; replicas start on the running loop."""

    def __init__(self, config: StubConfig, *, api_keys: Collection[str] | None) -> None:
        self.config = config
        self.model = config.engine.model
        self.runners: list[EngineRunner] = []
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
        self._next_replica = 0
        self.created_s = int(time.time())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create one engine and runner per replica on ``loop`` (engines use its clock)."""
        self.runners = [
            EngineRunner(
                create_engine(self.config.engine, clock=loop.time, name=f"engine-{index}"),
                loop=loop,
            )
            for index in range(self.config.replicas)
        ]

    @property
    def alive(self) -> bool:
        return any(not runner.closed for runner in self.runners)

    def pick(self) -> EngineRunner:
        """The next live replica, round-robin; 503 when none is alive."""
        count = len(self.runners)
        for _ in range(count):  # an empty list (not started) falls through to the 503
            runner = self.runners[self._next_replica]
            self._next_replica = (self._next_replica + 1) % count
            if not runner.closed:
                return runner
        raise ApiError(503, "No engine replica is alive.", type_="server_error", code="no_replica")

    def new_id(self) -> str:
        """A 24-hex-digit id, seeded (reproducible run to run)."""
        return f"{self._ids.getrandbits(96):024x}"

    def close(self) -> None:
        for runner in self.runners:
            runner.close()
