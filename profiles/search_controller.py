"""The online saturation search: raise the rate until the SLO fails, bisect, hold.

The decision needs feedback, so the core is a pure state machine,
:class:`SearchController`: each probe offers one rate for ``step_s``; at its end the
caller passes a :class:`SearchObservation` of that probe and gets the next rate.

1. grow: multiply the rate by ``growth`` while the probe passes (up to ``max_rate``);
2. bisect between the highest passing and the lowest failing rate until they are within
   ``rel_tolerance`` of the failing one (while nothing has passed yet, divide by
   ``growth`` instead, down to ``min_rate``);
3. hold at the highest passing rate for ``hold_s`` (at 0 when nothing passed).

A probe passes when p95 TTFT and p95 TPOT are within the SLO, the error fraction is at
most ``max_error_frac`` and achieved/offered is at least ``min_achieved_frac`` (0.95-0.97
is where open-loop steps saturate, ../shared/REFERENCE.md section 4). A missing p95 (no
completed request) fails.

The ``search`` preset (profiles/search.py) builds its Profile from these parameters; the
Locust shape replaces ``shape.profile`` with :func:`realized_profile` of the probes
actually run as it goes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Self

from pydantic import Field, model_validator

from profiles.base import Mode, Profile, Stage
from profiles.preset import PresetParams, profile_from

Phase = Literal["grow", "bisect", "hold"]


class SearchParams(PresetParams):
    mode: Mode = Field(default="rate", description="rate (req/s, open loop) or users")
    start_rate: float = Field(default=1.0, gt=0, description="first probe")
    max_rate: float = Field(default=1000.0, gt=0, description="never probe above this")
    min_rate: float = Field(default=0.1, gt=0, description="give up below this")
    growth: float = Field(default=2.0, gt=1, le=100, description="rate factor per passing probe")
    rel_tolerance: float = Field(default=0.05, gt=0, lt=1, description="bisection precision")
    max_probes: int = Field(default=20, ge=1, le=500, description="probes before holding")
    step_s: float = Field(default=60.0, gt=0, description="length of one probe")
    settle_frac: float = Field(default=0.3, ge=0, lt=1, description="start of probe not measured")
    hold_s: float = Field(default=300.0, gt=0, description="hold at the boundary")
    ttft_p95_ms: float | None = Field(default=2000.0, gt=0, description="SLO (None: unchecked)")
    tpot_p95_ms: float | None = Field(default=100.0, gt=0, description="SLO (None: unchecked)")
    max_error_frac: float = Field(default=0.01, ge=0, le=1, description="SLO on errors")
    min_achieved_frac: float = Field(default=0.95, ge=0, le=1, description="achieved/offered")

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if not self.min_rate <= self.start_rate <= self.max_rate:
            raise ValueError(
                f"need min_rate <= start_rate <= max_rate, got {self.min_rate}, "
                f"{self.start_rate}, {self.max_rate}"
            )
        return self


@dataclass(frozen=True, slots=True)
class SearchObservation:
    """What one probe measured. ``rate`` is informational: the controller knows its rate."""

    rate: float
    ttft_p95_ms: float | None
    tpot_p95_ms: float | None
    error_frac: float
    achieved_frac: float


@dataclass(frozen=True, slots=True)
class SearchState:
    phase: Phase
    rate: float  # the probe in progress, or the held rate
    lo: float  # highest rate that passed (0: none yet)
    hi: float | None  # lowest rate that failed (None: none yet)
    probes: int  # probes completed


def passes(params: SearchParams, obs: SearchObservation) -> bool:
    def within(value: float | None, limit: float | None) -> bool:
        if limit is None:
            return True
        return value is not None and not math.isnan(value) and value <= limit

    return (
        within(obs.ttft_p95_ms, params.ttft_p95_ms)
        and within(obs.tpot_p95_ms, params.tpot_p95_ms)
        and obs.error_frac <= params.max_error_frac
        and obs.achieved_frac >= params.min_achieved_frac
    )


def advance(params: SearchParams, state: SearchState, obs: SearchObservation) -> SearchState:
    """The pure transition: the state after the probe at ``state.rate`` observed ``obs``."""
    if state.phase == "hold":
        return state
    ok = passes(params, obs)
    probes = state.probes + 1
    rate = state.rate
    lo = max(state.lo, rate) if ok else state.lo
    hi = state.hi if ok else (rate if state.hi is None else min(state.hi, rate))
    held = SearchState(phase="hold", rate=lo, lo=lo, hi=hi, probes=probes)
    if probes >= params.max_probes:
        return held
    if hi is None:  # everything passed so far
        if rate >= params.max_rate:
            return held
        return SearchState("grow", min(rate * params.growth, params.max_rate), lo, hi, probes)
    if lo <= 0.0:  # nothing passed yet: search downwards geometrically
        lower = hi / params.growth
        if lower < params.min_rate:
            return held
        return SearchState("bisect", lower, lo, hi, probes)
    if hi - lo <= params.rel_tolerance * hi:
        return held
    return SearchState("bisect", (lo + hi) / 2.0, lo, hi, probes)


class SearchController:
    """Holds the search state between probes; all decisions are in :func:`advance`."""

    def __init__(self, params: SearchParams) -> None:
        self.params = params
        self.state = SearchState(phase="grow", rate=params.start_rate, lo=0.0, hi=None, probes=0)
        self.history: list[tuple[SearchObservation, bool]] = []

    @property
    def rate(self) -> float:
        return self.state.rate

    @property
    def done(self) -> bool:
        """True once holding at the boundary."""
        return self.state.phase == "hold"

    @property
    def boundary_rate(self) -> float | None:
        """Highest passing rate once the search is done (0 when nothing passed)."""
        return self.state.lo if self.done else None

    def next_rate(self, observation: SearchObservation) -> float:
        """Feed the finished probe's observation; returns the rate to offer next."""
        if not self.done:
            self.history.append((observation, passes(self.params, observation)))
        self.state = advance(self.params, self.state, observation)
        return self.state.rate


@dataclass(frozen=True, slots=True)
class ProbeSpan:
    """A probe (or the hold) as run: ``duration_s`` in run seconds."""

    name: str
    rate: float
    duration_s: float


def realized_profile(params: SearchParams, spans: Sequence[ProbeSpan]) -> Profile:
    """A Profile of the probes run so far (the last may be in progress, at its planned length)."""
    stages = tuple(
        Stage(
            name=span.name,
            duration_s=span.duration_s * params.time_scale,
            target_start=span.rate,
            target_end=span.rate,
            transition="step",
        )
        for span in spans
    )
    return profile_from(
        params, name="search", description="online saturation search", stages=stages
    )


def probe_name(index: int) -> str:
    return f"probe-{index:02d}"


def window_counts(after: Mapping[int, int], before: Mapping[int, int]) -> dict[int, int]:
    """Per-bucket counts added between two snapshots of a cumulative histogram."""
    delta = {key: count - before.get(key, 0) for key, count in after.items()}
    return {key: count for key, count in delta.items() if count > 0}


def quantile_from_counts(counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (nearest rank) of a ``{value: count}`` histogram; None when empty."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    return float(max(counts))


def hold_span(state: SearchState, params: SearchParams) -> ProbeSpan:
    return ProbeSpan("hold", state.rate, params.hold_s / params.time_scale)


def probe_span(index: int, state: SearchState, params: SearchParams) -> ProbeSpan:
    return ProbeSpan(probe_name(index), state.rate, params.step_s / params.time_scale)


def with_duration(span: ProbeSpan, duration_s: float) -> ProbeSpan:
    return replace(span, duration_s=duration_s)


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Cumulative load-generator counters at run time ``t_s``.

    ``ttft_ms`` / ``tpot_ms``: histograms ``{rounded ms: count}`` (Locust's
    ``StatsEntry.response_times``); ``requests`` / ``failures``: request counts.
    """

    t_s: float
    ttft_ms: Mapping[int, int]
    tpot_ms: Mapping[int, int]
    requests: int
    failures: int


def observe_window(
    before: StatsSnapshot, after: StatsSnapshot, rate: float, mode: str
) -> SearchObservation:
    """The observation of the window between two snapshots of a probe offering ``rate``.

    Achieved/offered is completed requests per second over ``rate`` in ``rate`` mode; in
    ``users`` mode there is no offered rate to compare with and it is 1.
    """
    window_s = max(after.t_s - before.t_s, 1e-9)
    requests = after.requests - before.requests
    failures = after.failures - before.failures
    achieved = (requests / window_s) / rate if mode == "rate" and rate > 0 else 1.0
    return SearchObservation(
        rate=rate,
        ttft_p95_ms=quantile_from_counts(window_counts(after.ttft_ms, before.ttft_ms), 0.95),
        tpot_p95_ms=quantile_from_counts(window_counts(after.tpot_ms, before.tpot_ms), 0.95),
        error_frac=failures / requests if requests > 0 else 0.0,
        achieved_frac=achieved,
    )
