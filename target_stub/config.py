"""The stub's whole configuration (``StubConfig``) and how it is built at the edge.

Layers, later wins: the engine preset named by ``--preset`` (or the TOML file's ``preset``
key), the TOML file (top-level keys are ``StubConfig`` fields; ``[engine]``, ``[overload]``,
``[rate_limits]`` and ``[autoscaler]`` are tables, ``[[faults]]`` an array of tables), then
CLI overrides given as dotted keys
(``engine.max_num_seqs = 256``). Every error names the bad field and the allowed values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from target_stub.autoscaler import AutoscalerConfig
from target_stub.engine_config import ENGINE_PRESETS, EngineConfig, engine_preset
from target_stub.faults import FaultSpec
from target_stub.fleet_config import FleetConfig
from target_stub.router import ROUTERS

DEFAULT_PRESET = "h100-llama3-8b"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConfigError(ValueError):
    """A configuration the stub cannot run with; the message says what to change."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OverloadConfig(_Frozen):
    """Bounded waiting queue (per replica). ``None`` = unbounded, like vLLM's default."""

    max_waiting_requests: int | None = Field(None, ge=0)
    max_waiting_tokens: int | None = Field(None, ge=0)
    reject_status: Literal[429, 503] = 503
    retry_after_s: float = Field(1.0, gt=0, le=3600)


class RateLimitConfig(_Frozen):
    """Per-API-key token buckets refilled continuously; ``None`` = that limit is off."""

    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)


class StubConfig(_Frozen):
    """Everything ``python -m target_stub`` runs with; frozen, validated once."""

    preset: str | None = Field(None, description="Engine preset the engine section came from.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    engine: EngineConfig
    replicas: int = Field(1, ge=1, le=256)
    router: str = Field("least_outstanding", description="round_robin | least_outstanding")
    autoscaler: AutoscalerConfig = AutoscalerConfig()
    faults: tuple[FaultSpec, ...] = Field((), description="Applied at start (after_s from start).")
    admin_token_env: str | None = Field(
        None, min_length=1, description="NAME of the env var holding the admin API token."
    )
    reuse_port: bool = Field(False, description="SO_REUSEPORT: several processes, one port.")
    control_port: int | None = Field(
        None, ge=0, le=65535, description="An extra listener of this process (own metrics/admin)."
    )
    stream_interval_tokens: int = Field(1, ge=1, le=1024)
    seed: int = Field(0, ge=0)
    api_key_env: str | None = Field(None, min_length=1)
    overload: OverloadConfig = OverloadConfig()
    rate_limits: RateLimitConfig | None = None
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    embedding_dims: int = Field(256, ge=1, le=8192)
    image_side_px: int = Field(64, ge=1, le=1024)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = False
    shutdown_grace_s: float = Field(1.0, ge=0, le=600)
    allow_remote: bool = False

    @field_validator("router")
    @classmethod
    def _known_router(cls, name: str) -> str:
        if name not in ROUTERS:
            raise ValueError(f"Unknown router {name!r}; known: {', '.join(sorted(ROUTERS))}")
        return name

    @property
    def fleet(self) -> FleetConfig:
        """The replica group's settings."""
        return FleetConfig(
            replicas=self.replicas,
            router=self.router,
            autoscaler=self.autoscaler,
            seed=self.seed,
        )


def load_config(
    preset: str | None = None,
    *,
    toml_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> StubConfig:
    """Build a ``StubConfig`` from a preset, an optional TOML file and dotted-key overrides."""
    data: dict[str, Any] = {}
    if toml_path is not None:
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {str(toml_path)!r}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {str(toml_path)!r} is not valid TOML: {exc}") from None
    name = preset or data.pop("preset", None) or DEFAULT_PRESET
    data.pop("preset", None)
    if not isinstance(name, str) or name not in ENGINE_PRESETS:
        known = ", ".join(sorted(ENGINE_PRESETS))
        raise ConfigError(f"Unknown preset {name!r}; known: {known}")
    engine_table = data.get("engine", {})
    if not isinstance(engine_table, dict):
        raise ConfigError(f"'engine' must be a table of EngineConfig fields; got {engine_table!r}")
    data["engine"] = {**engine_preset(name).model_dump(), **engine_table}
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    data["preset"] = name
    try:
        return StubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"Cannot set {key!r}: {part!r} is not a table")
        node = child
    node[parts[-1]] = value


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the field and, for unknown fields, the known ones."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        field = ".".join(loc) or "config"
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(_fields_at(loc[:-1])))
            lines.append(f"Unknown setting {field!r}; known at this level: {known}")
        else:
            lines.append(f"Invalid {field!r}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def _fields_at(path: list[str]) -> list[str]:
    model: type[BaseModel] = StubConfig
    for part in path:
        info = model.model_fields.get(part)
        annotation = getattr(info, "annotation", None)
        candidates = getattr(annotation, "__args__", (annotation,))
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def resolve_api_keys(config: StubConfig, environ: Mapping[str, str]) -> frozenset[str] | None:
    """The accepted API keys (comma-separated in the named variable); None = auth off."""
    if config.api_key_env is None:
        return None
    raw = environ.get(config.api_key_env, "")
    keys = frozenset(key.strip() for key in raw.split(",") if key.strip())
    if not keys:
        raise ConfigError(
            f"api_key_env is {config.api_key_env!r} but that environment variable is unset or "
            "empty; set it to one or more comma-separated keys, or drop --api-key-env"
        )
    return keys


def resolve_admin_token(config: StubConfig, environ: Mapping[str, str]) -> str | None:
    """The admin API token from the named variable; None = admin API off (404)."""
    if config.admin_token_env is None:
        return None
    token = environ.get(config.admin_token_env, "").strip()
    if not token:
        raise ConfigError(
            f"admin_token_env is {config.admin_token_env!r} but that environment variable is "
            "unset or empty; set it to the admin token, or drop --admin-token-env"
        )
    return token


def check_host(config: StubConfig) -> None:
    """Refuse a non-loopback bind unless ``allow_remote`` is set (the stub has no TLS)."""
    if config.host not in LOOPBACK_HOSTS and not config.allow_remote:
        allowed = ", ".join(sorted(LOOPBACK_HOSTS))
        raise ConfigError(
            f"Refusing to bind to non-loopback host {config.host!r} (allowed without "
            f"--allow-remote: {allowed}); pass --allow-remote to expose the stub"
        )
