"""Fleet settings: how many replicas, which router, the autoscaler (validated at the edge)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from target_stub.autoscaler import AutoscalerConfig
from target_stub.router import ROUTERS


class FleetConfig(BaseModel):
    """The replica group of one stub process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int = Field(1, ge=1, le=256, description="Replicas serving at start.")
    router: str = Field("least_outstanding", description="round_robin | least_outstanding")
    autoscaler: AutoscalerConfig = AutoscalerConfig()
    seed: int = Field(0, description="Seeds the error-rate fault's draws.")

    @field_validator("router")
    @classmethod
    def _known_router(cls, name: str) -> str:
        if name not in ROUTERS:
            raise ValueError(f"Unknown router {name!r}; known: {', '.join(sorted(ROUTERS))}")
        return name
