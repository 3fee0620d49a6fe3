"""Intended request start times for open loop: a rate function of time -> arrival times.

Pure and seeded (a ``numpy.random.Generator`` or an int seed). Kinds:

* ``poisson``: exponential gaps (a non-homogeneous Poisson process);
* ``gamma``: gamma gaps with coefficient of variation ``cv`` (cv < 1 more regular than
  Poisson, cv > 1 burstier; cv = 1 is Poisson), as GuideLLM and AIPerf offer;
* ``constant``: evenly spaced at the current rate.

Incremental API (what the open-loop generator uses)::

    schedule = ArrivalSchedule(rate_fn, kind="poisson", seed=rng_or_int, cv=1.0)
    t_s = schedule.next_before(until_s)   # next intended start, or None if none before until_s

``next_before`` returns the arrivals in order, one per call; ``None`` means none falls
before ``until_s`` and the schedule has consumed the rate up to ``until_s`` (calling it
again with a later ``until_s`` resumes exactly where it stopped). So a generator whose
rate is published once a second calls ``next_before(now + 1)`` in a loop and never
commits to an arrival computed with a rate it did not know yet.

How: time rescaling. Gaps of mean 1 are drawn in "operational time" (the integral of
the rate) and mapped back to run time; the rate is read once per ``resolution_s`` cell
(at its left edge), so the result does not depend on how the caller slices time. For
Poisson this is exactly the non-homogeneous Poisson process (the same distribution as
Lewis-Shedler thinning, which needs an upper bound of the future rate that an
online-published rate does not have); for gamma it is the time-rescaled renewal process.
:func:`intended_times` also offers thinning for a known, bounded ``rate_fn``.

Distributed: give each of N processes ``rate_fn(t) / N`` and its own stream, e.g.
``numpy.random.default_rng([seed, worker_index])``; the superposition of N independent
Poisson processes of rate r/N is Poisson of rate r.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, Literal

import numpy as np

from profiles.base import ProfileError

ArrivalKind = Literal["poisson", "gamma", "constant"]
ARRIVAL_KINDS: Final = ("poisson", "gamma", "constant")
RateFn = Callable[[float], float]
_BATCH = 4096  # gaps drawn per numpy call: numpy is fast per batch, slow per scalar


class ArrivalSchedule:
    """Incremental intended start times for ``rate_fn`` (req/s at run time t_s); see module doc."""

    def __init__(
        self,
        rate_fn: RateFn,
        *,
        kind: ArrivalKind = "poisson",
        seed: int | np.random.Generator = 0,
        cv: float = 1.0,
        start_s: float = 0.0,
        resolution_s: float = 0.01,
    ) -> None:
        if kind not in ARRIVAL_KINDS:
            raise ProfileError(f"Unknown arrival kind {kind!r}; known: {', '.join(ARRIVAL_KINDS)}")
        if not (cv > 0 and math.isfinite(cv)):
            raise ProfileError(f"cv must be a finite number > 0, got {cv!r}")
        if not resolution_s > 0:
            raise ProfileError(f"resolution_s must be > 0, got {resolution_s!r}")
        self.kind: ArrivalKind = kind
        self.cv = cv
        self.resolution_s = resolution_s
        self._rate_fn = rate_fn
        self._rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._gaps: list[float] = []
        self._clock_s = start_s  # the rate has been integrated up to here
        self._gap_left = self._next_gap()  # operational time still to go to the next arrival

    def next_before(self, until_s: float) -> float | None:
        """The next intended start time if it is before ``until_s``, else None."""
        res = self.resolution_s
        while self._clock_s < until_s:
            cell = math.floor(self._clock_s / res)
            cell_end_s = (cell + 1) * res
            if cell_end_s <= self._clock_s:  # float rounding at a cell edge
                cell += 1
                cell_end_s = (cell + 1) * res
            seg_end_s = min(cell_end_s, until_s)
            rate_rps = max(0.0, float(self._rate_fn(cell * res)))
            mass = rate_rps * (seg_end_s - self._clock_s)
            if rate_rps > 0.0 and mass >= self._gap_left:
                t_s = self._clock_s + self._gap_left / rate_rps
                self._clock_s = t_s
                self._gap_left = self._next_gap()
                return t_s
            self._gap_left -= mass
            self._clock_s = seg_end_s
        return None

    def times_until(self, until_s: float) -> list[float]:
        """All remaining intended start times before ``until_s``."""
        times = []
        while (t_s := self.next_before(until_s)) is not None:
            times.append(t_s)
        return times

    def _next_gap(self) -> float:
        if self.kind == "constant":
            return 1.0
        if not self._gaps:
            self._gaps = _unit_gaps(self._rng, self.kind, self.cv, _BATCH)[::-1].tolist()
        return self._gaps.pop()


def intended_times(
    rate_fn: RateFn,
    *,
    kind: ArrivalKind = "poisson",
    seed: int | np.random.Generator = 0,
    cv: float = 1.0,
    start_s: float = 0.0,
    end_s: float,
    rate_max_rps: float | None = None,
) -> list[float]:
    """All intended start times in ``[start_s, end_s)``.

    With ``kind="poisson"`` and ``rate_max_rps`` (an upper bound of ``rate_fn`` over the
    interval) this is Lewis-Shedler thinning, exact for any rate function; otherwise it
    is :class:`ArrivalSchedule`.
    """
    if kind == "poisson" and rate_max_rps is not None:
        return _thinning(
            rate_fn, seed=seed, start_s=start_s, end_s=end_s, rate_max_rps=rate_max_rps
        )
    schedule = ArrivalSchedule(rate_fn, kind=kind, seed=seed, cv=cv, start_s=start_s)
    return schedule.times_until(end_s)


def _thinning(
    rate_fn: RateFn,
    *,
    seed: int | np.random.Generator,
    start_s: float,
    end_s: float,
    rate_max_rps: float,
) -> list[float]:
    if not rate_max_rps > 0:
        raise ProfileError(f"rate_max_rps must be > 0, got {rate_max_rps!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    times: list[float] = []
    t_s = start_s
    while True:
        gaps = rng.exponential(1.0 / rate_max_rps, _BATCH)
        accept = rng.random(_BATCH)
        for gap, u in zip(gaps.tolist(), accept.tolist(), strict=True):
            t_s += gap
            if t_s >= end_s:
                return times
            rate_rps = float(rate_fn(t_s))
            if rate_rps > rate_max_rps * (1 + 1e-9):
                raise ProfileError(
                    f"rate_fn({t_s:.3f}) = {rate_rps} exceeds rate_max_rps = {rate_max_rps}"
                )
            if u * rate_max_rps < rate_rps:
                times.append(t_s)


def _unit_gaps(rng: np.random.Generator, kind: str, cv: float, n: int) -> np.ndarray:
    """``n`` gaps of mean 1 in operational time."""
    if kind == "poisson":
        return rng.exponential(1.0, n)
    shape = 1.0 / (cv * cv)  # gamma with mean shape*scale = 1 and CV 1/sqrt(shape) = cv
    return rng.gamma(shape, 1.0 / shape, n)
