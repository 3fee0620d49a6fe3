"""Fault specifications (pydantic, one model per kind) and their text form for the CLI.

A fault is applied at start (CLI ``--fault`` or TOML ``[[faults]]``), at runtime through the
admin API, or scheduled: every spec has ``after_s``, the delay from when it is submitted
(the stub's start for CLI/TOML faults) to when it acts. Faults with ``duration_s`` clear
themselves; the others stay until cleared (``DELETE /admin/faults/{id}``,
``POST /admin/faults/clear``, ``POST /admin/replicas/{index}/restore``).

Kinds:

``kill``           the replica's requests end at once: ``mode="error"`` sends an error chunk
                   and ``[DONE]`` (an error body if not streaming), ``mode="drop"`` closes
                   the connection. With ``restart_after_s`` it restarts after that long, then
                   spends ``cold_start_s`` starting before it serves again.
``slow``           every engine step takes ``factor`` times as long.
``stall``          no engine step runs: streams freeze with no error; ``/health`` stays 200.
``shrink_kv``      KV cache cut to ``kv_capacity_frac`` of its size: a preemption storm.
``error_rate``     a fraction ``rate_frac`` of requests (to one replica, or all) fail at once
                   with a status drawn from ``status_codes``, in OpenAI's error shape.
``startup_delay``  the replica(s) are not ready for ``delay_s``: ``/health/ready`` answers 503
                   while no replica is ready; requests in flight continue.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from target_stub.replica import KillMode

ReplicaIndex = Annotated[int, Field(ge=0)]
StatusCode = Annotated[int, Field(ge=400, le=599)]


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after_s: float = Field(0.0, ge=0, description="Delay before the fault acts.")


class _TimedFault(_Fault):
    duration_s: float | None = Field(None, gt=0, description="Clears itself after this long.")


class KillFault(_Fault):
    kind: Literal["kill"] = "kill"
    replica: ReplicaIndex
    mode: KillMode = "error"
    restart_after_s: float | None = Field(None, ge=0)
    cold_start_s: float = Field(0.0, ge=0)


class SlowFault(_TimedFault):
    kind: Literal["slow"] = "slow"
    replica: ReplicaIndex
    factor: float = Field(gt=0, description="Step-time multiplier (2 = half speed).")


class StallFault(_TimedFault):
    kind: Literal["stall"] = "stall"
    replica: ReplicaIndex


class ShrinkKvFault(_TimedFault):
    kind: Literal["shrink_kv"] = "shrink_kv"
    replica: ReplicaIndex
    kv_capacity_frac: float = Field(gt=0, le=1)


class ErrorRateFault(_TimedFault):
    kind: Literal["error_rate"] = "error_rate"
    replica: ReplicaIndex | None = Field(None, description="None: every request.")
    rate_frac: float = Field(ge=0, le=1)
    status_codes: tuple[StatusCode, ...] = Field((500,), min_length=1)


class StartupDelayFault(_Fault):
    kind: Literal["startup_delay"] = "startup_delay"
    replica: ReplicaIndex | None = Field(None, description="None: every replica.")
    delay_s: float = Field(ge=0)


FaultSpec = Annotated[
    KillFault | SlowFault | StallFault | ShrinkKvFault | ErrorRateFault | StartupDelayFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = ("kill", "slow", "stall", "shrink_kv", "error_rate", "startup_delay")
FAULT_SPEC_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)
_NULLS = {"none", "null", ""}


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse the CLI form ``KIND:key=value,key=value`` (``status_codes=429|503``).

    Example: ``kill:replica=0,mode=drop,after_s=30,restart_after_s=60``.
    Raises ValueError naming the problem and the known kinds.
    """
    kind, _, rest = text.strip().partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(
            f"Unknown fault kind {kind!r} in {text!r}; known: {', '.join(FAULT_KINDS)}"
        )
    fields: dict[str, object] = {"kind": kind}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"Fault option {item!r} in {text!r} is not key=value")
        key = key.strip()
        value = value.strip()
        if key == "status_codes":
            fields[key] = [v for v in value.split("|") if v]
        else:
            fields[key] = None if value.lower() in _NULLS else value
    try:
        return FAULT_SPEC_ADAPTER.validate_python(fields)
    except ValidationError as exc:
        raise ValueError(f"Invalid fault {text!r}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"][1:] or first["loc"])
    return f"{where}: {first['msg']}"
