"""Shared pieces of the fleet tests: a sink that records what a client would see, a small
engine, and a fleet on a simulated-time loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from target_stub.autoscaler import AutoscalerConfig
from target_stub.cluster import Fleet
from target_stub.engine import FinishReason, Sequence
from target_stub.engine_config import EngineConfig, engine_preset
from target_stub.fleet_config import FleetConfig
from target_stub.sim_loop import SimLoop


@dataclass
class RecordingSink:
    """The engine's side of one client: token times and how the request ended."""

    loop: SimLoop
    token_times_s: list[float] = field(default_factory=list)
    reason: FinishReason | None = None
    t_done_s: float | None = None

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        self.token_times_s.extend([self.loop.time()] * n_new)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        assert self.reason is None, "on_finish called twice"
        self.reason = reason
        self.t_done_s = self.loop.time()


def small_engine(**overrides: object) -> EngineConfig:
    """The tiny preset with a 4-sequence batch: saturates at about 20 requests/s."""
    base = engine_preset("tiny").model_dump()
    base.update({"max_num_seqs": 4, **overrides})
    return EngineConfig.model_validate(base)


def sim_fleet(
    *,
    replicas: int = 2,
    router: str = "least_outstanding",
    autoscaler: AutoscalerConfig | None = None,
    engine: EngineConfig | None = None,
) -> tuple[SimLoop, Fleet]:
    loop = SimLoop()
    config = FleetConfig(
        replicas=replicas, router=router, autoscaler=autoscaler or AutoscalerConfig()
    )
    return loop, Fleet(engine or small_engine(), config, loop=loop)


def request(
    fleet: Fleet, loop: SimLoop, *, prompt_tokens: int = 64, output_tokens: int = 32
) -> tuple[RecordingSink, Sequence, int]:
    """Submit one request now; returns its sink, sequence and replica index."""
    sink = RecordingSink(loop)
    seq = Sequence(prompt_tokens=prompt_tokens, output_tokens=output_tokens, sink=sink)
    replica = fleet.submit(seq)
    return sink, seq, replica.index


def states(fleet: Fleet) -> list[str]:
    """Every replica's state, read afresh (a call, so type checkers do not narrow it)."""
    return [r.state for r in fleet.replicas]
