"""The profile model: named stages of offered load over time, plus scheduled fault events.

A :class:`Profile` is a pure function of elapsed run time. Stage durations and event
times are written in *profile time* (a "24 h" day is 86,400 s); ``time_scale``
compresses them, so run time = profile time / ``time_scale``. Every public method
takes and returns run time (``t_s``: seconds since the run started), which is what
Locust, the open-loop generator and analysis see.

Targets are users (``mode="users"``, closed loop) or requests per second
(``mode="rate"``, open loop). Noise is multiplicative, bounded by ``noise_frac``, and
drawn per whole run second from a counter-based hash of ``(seed, second)``: the same
seed gives the same curve whatever the order or number of calls.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Transition = Literal["step", "linear", "exponential", "sine"]
Mode = Literal["users", "rate"]
EventKind = Literal["kill_replica", "restore_replica", "clear_faults", "fault"]

TRANSITIONS: tuple[str, ...] = ("step", "linear", "exponential", "sine")
MODES: tuple[str, ...] = ("users", "rate")
EVENT_KINDS: tuple[str, ...] = ("kill_replica", "restore_replica", "clear_faults", "fault")

# Curvature of the "exponential" transition when an endpoint is 0 (a geometric
# interpolation is undefined there): the standard exponential ease, 2**(10 u).
_EASE_EXP_BASE = 2.0**10
_MASK64 = (1 << 64) - 1


class ProfileError(ValueError):
    """A profile, preset file or override is invalid; the message names it and what is allowed."""


class Stage(BaseModel):
    """One stage: load goes from ``target_start`` to ``target_end`` over ``duration_s`` (profile s).

    Transitions (u = fraction of the stage elapsed, 0..1):
    ``step`` holds ``target_end`` for the whole stage (the jump happens at the stage start);
    ``linear`` interpolates; ``exponential`` interpolates geometrically (an exponential ease
    when an endpoint is 0); ``sine`` is a half-cosine ease (zero slope at both ends, so
    trough -> peak -> trough stages of 12 h each make an exact 24 h sinusoid).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    duration_s: float = Field(gt=0, allow_inf_nan=False)
    target_start: float = Field(ge=0, allow_inf_nan=False)
    target_end: float = Field(ge=0, allow_inf_nan=False)
    transition: Transition = "linear"
    noise_frac: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)

    def nominal_at(self, u: float) -> float:
        """Noise-free target at fraction ``u`` (clamped to 0..1) of this stage."""
        u = min(max(u, 0.0), 1.0)
        start, end = self.target_start, self.target_end
        if self.transition == "step":
            return end
        if self.transition == "linear":
            return start + (end - start) * u
        if self.transition == "sine":
            return start + (end - start) * (1.0 - math.cos(math.pi * u)) / 2.0
        if start > 0 and end > 0:
            # In log space: end / start overflows for tiny starts.
            value = math.exp((1.0 - u) * math.log(start) + u * math.log(end))
            return min(max(value, min(start, end)), max(start, end))
        return start + (end - start) * (math.pow(_EASE_EXP_BASE, u) - 1.0) / (_EASE_EXP_BASE - 1.0)

    @property
    def peak(self) -> float:
        """Highest noise-free target in the stage (transitions are monotone)."""
        return (
            self.target_end
            if self.transition == "step"
            else max(self.target_start, self.target_end)
        )


class ScheduledEvent(BaseModel):
    """A fault action fired at ``t_s`` (profile time) against the stub's admin API.

    ``target`` is the replica index for ``kill_replica`` / ``restore_replica``. ``params`` are
    sent verbatim: durations inside them (``restart_after_s``) are server-side, real seconds,
    and are NOT divided by ``time_scale``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    t_s: float = Field(ge=0, allow_inf_nan=False)
    kind: EventKind
    target: int | None = Field(default=None, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target_when_needed(self) -> Self:
        if self.kind in ("kill_replica", "restore_replica") and self.target is None:
            raise ValueError(f"kind {self.kind!r} needs 'target' (a replica index >= 0)")
        return self


@dataclass(frozen=True, slots=True)
class StageBoundary:
    """A stage placed on the run timeline (run seconds); the manifest's ``stages`` entries."""

    name: str
    t_start_s: float
    t_end_s: float
    target_start: float
    target_end: float
    transition: str


class Profile(BaseModel):
    """Offered load over run time; see the module docstring for time scaling and noise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    mode: Mode = "users"
    stages: tuple[Stage, ...] = Field(min_length=1)
    seed: int = 0
    time_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    events: tuple[ScheduledEvent, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    # Stage start times in profile seconds (len(stages) + 1 entries), for bisect lookups.
    _starts: list[float] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        seen: set[str] = set()
        for stage in self.stages:
            if stage.name in seen:
                raise ValueError(
                    f"stage name {stage.name!r} appears twice; stage names must be unique"
                )
            seen.add(stage.name)
        total = sum(stage.duration_s for stage in self.stages)
        for event in self.events:
            if event.t_s > total:
                raise ValueError(
                    f"event {event.kind!r} at t_s={event.t_s} is after the profile's end "
                    f"({total} s of profile time); allowed: 0..{total}"
                )
        return self

    def model_post_init(self, context: Any, /) -> None:
        starts = [0.0]
        for stage in self.stages:
            starts.append(starts[-1] + stage.duration_s)
        self._starts = starts

    @property
    def duration_s(self) -> float:
        """Run-time length: profile seconds divided by ``time_scale``."""
        return self._starts[-1] / self.time_scale

    def stage_index_at(self, t_s: float) -> int | None:
        """Index of the stage active at run time ``t_s`` (None before 0 or from the end on)."""
        # Compare with duration_s in run time: (total / scale) * scale can round below total.
        if t_s < 0 or t_s >= self.duration_s:
            return None
        index = bisect.bisect_right(self._starts, t_s * self.time_scale) - 1
        return min(index, len(self.stages) - 1)

    def stage_at(self, t_s: float) -> Stage | None:
        index = self.stage_index_at(t_s)
        return None if index is None else self.stages[index]

    def nominal_at(self, t_s: float) -> float:
        """Noise-free target at run time ``t_s``; 0 outside the profile."""
        index = self.stage_index_at(t_s)
        if index is None:
            return 0.0
        stage = self.stages[index]
        u = (t_s * self.time_scale - self._starts[index]) / stage.duration_s
        return stage.nominal_at(u)

    def target_at(self, t_s: float) -> float:
        """Users or req/s at run time ``t_s``, noise included; never negative, 0 outside."""
        index = self.stage_index_at(t_s)
        if index is None:
            return 0.0
        nominal = self.nominal_at(t_s)
        noise_frac = self.stages[index].noise_frac
        if noise_frac == 0.0 or nominal == 0.0:
            return nominal
        return max(0.0, nominal * (1.0 + noise_frac * unit_noise(self.seed, math.floor(t_s))))

    def peak(self) -> tuple[float, float]:
        """``(t_s, target)``: the first run time at which the noise-free target is highest."""
        best_t_s, best = 0.0, -1.0
        for index, stage in enumerate(self.stages):
            t_start_s = self._starts[index] / self.time_scale
            t_end_s = self._starts[index + 1] / self.time_scale
            if stage.transition == "step" or stage.target_start >= stage.target_end:
                candidate_t_s, value = t_start_s, stage.peak
            else:
                # Rising non-step stages reach their end value at the stage end.
                candidate_t_s, value = t_end_s, stage.target_end
            if value > best:
                best_t_s, best = candidate_t_s, value
        return best_t_s, best

    def max_target(self) -> float:
        """Upper bound of ``target_at`` over the whole run (peak with full noise)."""
        return max(stage.peak * (1.0 + stage.noise_frac) for stage in self.stages)

    def boundaries(self) -> list[StageBoundary]:
        return [
            StageBoundary(
                name=stage.name,
                t_start_s=self._starts[i] / self.time_scale,
                t_end_s=self._starts[i + 1] / self.time_scale,
                target_start=stage.target_start,
                target_end=stage.target_end,
                transition=stage.transition,
            )
            for i, stage in enumerate(self.stages)
        ]

    def event_times_s(self) -> list[tuple[float, ScheduledEvent]]:
        """Events on the run timeline, ``(t_s / time_scale, event)``, in firing order."""
        timed = [(event.t_s / self.time_scale, event) for event in self.events]
        return sorted(timed, key=lambda item: item[0])

    def manifest_entry(self) -> dict[str, Any]:
        """The manifest's ``profile`` object (profile-time stages, as written)."""
        return {
            "name": self.name,
            "mode": self.mode,
            "seed": self.seed,
            "time_scale": self.time_scale,
            "duration_s": self.duration_s,
            "params": dict(self.params),
            "stages": [stage.model_dump() for stage in self.stages],
            "events": [event.model_dump() for event in self.events],
        }


def unit_noise(seed: int, second: int) -> float:
    """Deterministic noise in [-1, 1] for one second: triangular (sum of two uniforms).

    A splitmix64 hash of ``(seed, second)`` instead of a stateful generator, so a value
    depends only on its inputs, never on how many values were drawn before.
    """
    a = _splitmix64((seed * 0x9E3779B97F4A7C15 + second) & _MASK64)
    b = _splitmix64(a)
    return (a / 2.0**64) + (b / 2.0**64) - 1.0


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)
