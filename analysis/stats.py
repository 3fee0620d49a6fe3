"""Resampling statistics: bootstrap confidence intervals, seeded through a Generator passed in.

Bootstrapping a sample quantile by resampling n requests B times costs O(B n); instead the
resampled quantile is drawn directly: in a resample of n values, the k-th smallest is the
original order statistic at rank ceil(n U) with U ~ Beta(k, n - k + 1) (the k-th order
statistic of n uniforms), up to ties, which is the bootstrap distribution of the sample
quantile in O(B). Counts of events in a window are resampled as Poisson, fractions as
binomial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided percentile-bootstrap interval."""

    estimate: float
    low: float
    high: float
    level: float


def bootstrap_ci(
    samples: npt.ArrayLike,
    statistic: Callable[[npt.NDArray[np.float64]], float],
    rng: np.random.Generator,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
) -> Interval:
    """Percentile bootstrap of ``statistic`` over i.i.d. ``samples`` (resampling rows)."""
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one sample, got none")
    estimate = float(statistic(data))
    idx = rng.integers(0, data.size, size=(n_resamples, data.size))
    stats = np.array([statistic(data[row]) for row in idx], dtype=np.float64)
    return percentile_interval(estimate, stats, level)


def percentile_interval(
    estimate: float, resampled: npt.NDArray[np.float64], level: float = 0.95
) -> Interval:
    """Interval from bootstrap replicates (non-finite replicates ignored)."""
    finite = resampled[np.isfinite(resampled)]
    if finite.size == 0:
        return Interval(estimate, float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(estimate, float(low), float(high), level)


def resample_quantile(
    sorted_values: npt.NDArray[np.float64], q_pct: float, rng: np.random.Generator, size: int
) -> npt.NDArray[np.float64]:
    """``size`` bootstrap replicates of the ``q_pct`` percentile of ``sorted_values``."""
    n = sorted_values.size
    if n == 0:
        return np.full(size, np.nan)
    k = min(max(int(np.ceil(q_pct / 100.0 * n)), 1), n)
    u = rng.beta(k, n - k + 1, size=size)
    ranks = np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)
    return sorted_values[ranks]


def resample_fraction(
    successes: int, trials: int, rng: np.random.Generator, size: int
) -> npt.NDArray[np.float64]:
    if trials <= 0:
        return np.full(size, np.nan)
    return rng.binomial(trials, successes / trials, size=size) / trials


def resample_count(count: float, rng: np.random.Generator, size: int) -> npt.NDArray[np.float64]:
    return rng.poisson(max(count, 0.0), size=size).astype(np.float64)
