"""The run-directory contract as analysis reads it: ``manifest.json`` and the record columns.

``Manifest`` mirrors docs/ARCHITECTURE.md (unknown keys tolerated, so newer writers do not
break older readers). ``RECORD_DTYPES`` names every field of ``locustfiles.records`` (schema
v1) with the dtype ``analysis.io`` gives it; a contract test keeps the two in sync.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SUPPORTED_SCHEMA_VERSIONS: Final = (1,)

# dtype per record field in the requests frame. Nullable numbers are float64 with NaN for
# null (one dtype, vectorised arithmetic); ``itl_s`` is kept out of the frame as a flat array
# (``analysis.io.ItlSamples``) because exploding lists per row would cost seconds at 1M rows.
RECORD_DTYPES: Final[dict[str, str]] = {
    "request_id": "object",
    "process_id": "category",
    "user_class": "category",
    "endpoint": "category",
    "stage": "category",
    "tier": "category",
    "t_intended_s": "float64",
    "t_sent_s": "float64",
    "t_first_chunk_s": "float64",
    "t_first_token_s": "float64",
    "t_last_token_s": "float64",
    "t_done_s": "float64",
    "prompt_tokens": "float64",
    "output_tokens": "int64",
    "n_chunks": "int64",
    "itl_s": "itl",
    "status": "int64",
    "error_kind": "category",
    "error": "object",
    "retries": "int64",
}
RECORD_COLUMNS: Final = tuple(RECORD_DTYPES)
FRAME_COLUMNS: Final = tuple(name for name in RECORD_DTYPES if name != "itl_s")

OFFERED_COLUMNS: Final = ("t_s", "stage", "target_users", "target_rps", "actual_users")
EVENT_COLUMNS: Final = ("t_s", "kind", "target", "params", "ok", "detail")
SERVER_METRIC_COLUMNS: Final = ("t_s", "name", "metric", "value")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class StageSpec(_Lenient):
    name: str
    t_start_s: float
    t_end_s: float
    target_start: float | None = None
    target_end: float | None = None
    transition: str | None = None


class ProfileSpec(_Lenient):
    name: str = "unknown"
    mode: Literal["users", "rate"] | None = None
    seed: int | None = None
    time_scale: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class TargetSpec(_Lenient):
    url: str | None = None
    kind: str | None = None
    model: str | None = None


class LoadgenHealth(_Lenient):
    processes: int | None = None
    cpu_max_frac: float | None = None
    cpu_mean_frac: float | None = None
    schedule_lag_p99_ms: float | None = None
    dropped: int | None = None
    warnings: list[str] = Field(default_factory=list)


class ValiditySpec(_Lenient):
    client_limited: bool = False
    reasons: list[str] = Field(default_factory=list)


class Manifest(_Lenient):
    """``manifest.json`` (schema v1); see docs/ARCHITECTURE.md for each key."""

    schema_version: int
    run_id: str
    started_at: str | None = None
    t0_epoch_s: float | None = None
    finished_at: str | None = None
    git_sha: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    profile: ProfileSpec | None = None
    stages: list[StageSpec] = Field(default_factory=list)
    target: TargetSpec | None = None
    stub_config: dict[str, Any] | None = None
    slo: dict[str, float] = Field(default_factory=dict)
    loadgen: LoadgenHealth | None = None
    validity: ValiditySpec = Field(default_factory=ValiditySpec)

    @property
    def open_loop(self) -> bool | None:
        """True for arrival-rate profiles, False for user profiles, None when unknown."""
        if self.profile is None or self.profile.mode is None:
            return None
        return self.profile.mode == "rate"
