"""Exact percentiles, overall and per group, equal to ``numpy.percentile`` (linear method).

Never Locust's bucketed percentiles: every value comes from the raw records. Grouped
percentiles pick by the number of groups: a mask and a partition per group (few groups, tens
of millions of ITL values), a radix sort by group then a partition per group (up to 4,096
groups, e.g. one-second windows), or one sort by value and group with index arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

QUANTILES_PCT: Final = (50.0, 90.0, 95.0, 99.0)
# Up to this many groups, a mask and a partition per group (O(n) each, and int16 compares
# are cheap) beat sorting everything; tens of millions of ITL values per stage take this path.
_FEW_GROUPS: Final = 16
# Up to this many groups, one numpy call per group (~20 us each) is cheaper than sorting.
_LOOP_GROUPS: Final = 4096


def percentiles(values: npt.ArrayLike, qs_pct: Sequence[float] = QUANTILES_PCT) -> list[float]:
    """Percentiles of the finite entries of ``values`` (NaN for each when there are none)."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return [float("nan")] * len(qs_pct)
    return [float(v) for v in np.percentile(arr, list(qs_pct))]


def grouped_percentiles(
    values: npt.NDArray[np.float64],
    groups: npt.NDArray[np.integer[Any]],
    n_groups: int,
    qs_pct: Sequence[float] = QUANTILES_PCT,
) -> npt.NDArray[np.float64]:
    """``out[g, j]`` = ``numpy.percentile(values[groups == g], qs_pct[j])``.

    Entries with a negative group or a non-finite value are ignored; a group with no values
    gives NaN.
    """
    keep = (groups >= 0) & (groups < n_groups) & np.isfinite(values)
    # ITL arrives as tens of millions of values that are all kept: do not copy them
    v, g = (values, groups) if keep.all() else (values[keep], groups[keep])
    out = np.full((n_groups, len(qs_pct)), np.nan)
    if v.size == 0:
        return out
    if n_groups <= _FEW_GROUPS:
        small = g.astype(np.int16, copy=False)
        for k in range(n_groups):
            sel = v[small == k]
            if sel.size:
                out[k] = np.percentile(sel, list(qs_pct))
        return out
    group_dtype = np.int16 if n_groups <= np.iinfo(np.int16).max else np.int64
    if n_groups <= _LOOP_GROUPS:
        # Group order by a stable sort of small integers (numpy uses a radix sort for
        # <= 16-bit keys: O(n)), then a partition per contiguous group: no O(n log n) sort.
        order = np.argsort(g.astype(group_dtype, copy=False), kind="stable")
        grouped = v[order]
        bounds = np.concatenate(([0], np.cumsum(np.bincount(g, minlength=n_groups))))
        for k in range(n_groups):
            if bounds[k + 1] > bounds[k]:
                out[k] = np.percentile(grouped[bounds[k] : bounds[k + 1]], list(qs_pct))
        return out
    # Many groups: sort by value, then stably (radix) by group, and read every group's order
    # statistics with index arithmetic instead of one numpy call per group.
    by_value = np.argsort(v)
    order = by_value[np.argsort(g[by_value].astype(group_dtype), kind="stable")]
    v_sorted = v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    for j, q in enumerate(qs_pct):
        # numpy's default ("linear") method: position (n - 1) * q / 100 between order stats
        pos = (counts[has] - 1) * (q / 100.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, counts[has] - 1)
        frac = pos - lo
        base = starts[has]
        low_v = v_sorted[base + lo]
        high_v = v_sorted[base + hi]
        diff = high_v - low_v
        # the same two-sided lerp numpy uses, so results agree to the last bit
        out[has, j] = np.where(frac >= 0.5, high_v - diff * (1 - frac), low_v + diff * frac)
    return out
