"""The engine variants behind one interface, chosen by the configuration."""

from __future__ import annotations

from target_stub.engine import Clock, Engine, SchedulerPolicy
from target_stub.engine_config import EngineConfig
from target_stub.fixed_engine import FixedLatencyEngine
from target_stub.image_engine import ImageEngine

AnyEngine = Engine | FixedLatencyEngine | ImageEngine


def create_engine(
    config: EngineConfig,
    *,
    clock: Clock,
    name: str = "engine-0",
    policy: SchedulerPolicy | None = None,
) -> AnyEngine:
    """Fixed timing when ``fixed_*_ms`` are set, else the image or text engine by kind.

    ``policy`` (e.g. vLLM 0.6 emulation, see :class:`target_stub.engine.SchedulerPolicy`)
    applies to the text engine only; None is today's vLLM.
    """
    if config.fixed_timing:
        return FixedLatencyEngine(config, clock=clock, name=name)
    if config.kind == "image":
        return ImageEngine(config, clock=clock, name=name)
    return Engine(config, clock=clock, name=name, policy=policy or SchedulerPolicy())
