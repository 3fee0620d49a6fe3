"""The engine variants behind one interface, chosen by the configuration."""

from __future__ import annotations

from target_stub.engine import Clock, Engine
from target_stub.engine_config import EngineConfig
from target_stub.fixed_engine import FixedLatencyEngine
from target_stub.image_engine import ImageEngine

AnyEngine = Engine | FixedLatencyEngine | ImageEngine


def create_engine(config: EngineConfig, *, clock: Clock, name: str = "engine-0") -> AnyEngine:
    """Fixed timing when ``fixed_*_ms`` are set, else the image or text engine by kind."""
    if config.fixed_timing:
        return FixedLatencyEngine(config, clock=clock, name=name)
    if config.kind == "image":
        return ImageEngine(config, clock=clock, name=name)
    return Engine(config, clock=clock, name=name)
