"""Sample containers for the live view (pure: numpy only): by time window, and sorted.

Both take samples one at a time from request listeners (an ``array.append``, well under
a microsecond) and do their real work in numpy at snapshot time, every 2 s, so that a
snapshot never stalls the greenlets measuring latency in the same process for long.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class Quantiles:
    """Exact percentiles (ms) of one metric, keyed by the percentile (e.g. 95.0)."""

    n: int
    by_q: Mapping[float, float]

    def get(self, q: float) -> float | None:
        return self.by_q.get(q)


class TimedColumns:
    """Rows ``(t_s, *values)`` selected by time in numpy; pruned from the oldest end."""

    def __init__(self, *, width: int) -> None:
        self._pending = [array("d") for _ in range(width + 1)]
        self._chunks: list[FloatArray] = []  # each of shape (width + 1, rows)

    def append(self, t_s: float, *values: float) -> None:
        self._pending[0].append(t_s)
        for column, value in zip(self._pending[1:], values, strict=True):
            column.append(value)

    def select(self, start_s: float, end_s: float) -> FloatArray:
        """Columns of the rows with ``start_s < t_s <= end_s``, shape (width + 1, n)."""
        self._flush()
        if not self._chunks:
            return np.empty((len(self._pending), 0))
        rows = np.concatenate(self._chunks, axis=1)
        keep = (rows[0] > start_s) & (rows[0] <= end_s)
        return rows[:, keep]

    def prune(self, before_s: float) -> None:
        """Forget chunks whose every row is older than ``before_s``."""
        self._flush()
        self._chunks = [c for c in self._chunks if c.shape[1] and c[0].max() >= before_s]

    def _flush(self) -> None:
        if self._pending[0]:
            self._chunks.append(np.array(self._pending, dtype=np.float64))
            self._pending = [array("d") for _ in self._pending]


class SortedSamples:
    """Every sample of a run, kept sorted so that percentiles cost O(1) each.

    New samples wait in an array; a snapshot sorts them and merges them in (O(n) memory
    moves: about 1 ms at 100,000 samples, 7 ms at a million), where ``np.percentile`` over
    the whole run costs about 50 ms per million on every snapshot. Percentiles use numpy's
    default definition (linear interpolation between closest ranks).
    """

    def __init__(self) -> None:
        self._sorted: np.ndarray[Any, np.dtype[np.float64]] = np.empty(0, dtype=np.float64)
        self._pending: array[float] = array("d")

    def append(self, value: float) -> None:
        self._pending.append(value)

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._pending)

    def quantiles(self, qs: Sequence[float]) -> Quantiles:
        if self._pending:
            new = np.sort(np.array(self._pending, dtype=np.float64))
            self._pending = array("d")
            at = np.searchsorted(self._sorted, new)
            self._sorted = np.insert(self._sorted, at, new)
        ordered, n = self._sorted, int(self._sorted.size)
        if n == 0:
            return Quantiles(n=0, by_q={})
        by_q = {}
        for q in qs:
            rank = q / 100.0 * (n - 1)
            lo = math.floor(rank)
            hi = min(lo + 1, n - 1)
            frac = rank - lo
            a, b = float(ordered[lo]), float(ordered[hi])
            by_q[q] = a + (b - a) * frac if frac < 0.5 else b - (b - a) * (1.0 - frac)
        return Quantiles(n=n, by_q=by_q)
