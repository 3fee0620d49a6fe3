"""What a preset builder is: a parameter model plus a pure function from parameters to a Profile.

Every preset's parameters extend :class:`PresetParams` (seed, time scale, mode), are a
frozen pydantic model with ``extra="forbid"`` (so a misspelt parameter is an error that
lists the allowed ones) and are recorded verbatim in the profile's ``params``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from profiles.base import Mode, Profile


class PresetParams(BaseModel):
    """Parameters every preset takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=0, description="seed of the noise (and of anything random)")
    time_scale: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="run time = profile time / time_scale"
    )
    mode: Mode = Field(
        default="users", description="users (closed loop) or rate (open loop, req/s)"
    )


@dataclass(frozen=True, slots=True)
class Builder:
    """A registered preset builder.

    ``level_param`` names the parameter that ``--baseline-users`` / ``--baseline-rps`` set
    (None when the preset has no single level, e.g. a sweep's ladder).
    """

    name: str
    params_model: type[PresetParams]
    build: Callable[[Any], Profile]
    summary: str
    level_param: str | None = "baseline"
    multiplier_param: str | None = None

    def make(self, params: PresetParams) -> Profile:
        return self.build(params)


def profile_from(params: PresetParams, *, name: str, description: str, **fields: Any) -> Profile:
    """Build the Profile with the common fields taken from ``params`` (recorded in full)."""
    return Profile(
        name=name,
        mode=params.mode,
        seed=params.seed,
        time_scale=params.time_scale,
        params=params.model_dump(mode="json"),
        description=description,
        **fields,
    )
