"""Exact percentiles equal numpy's, per group, whatever the grouping path."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.percentiles import QUANTILES_PCT, grouped_percentiles, percentiles

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 300), elements=finite),
    n_groups=st.sampled_from([1, 3, 16, 17, 40, 4097]),
    seed=st.integers(0, 2**32 - 1),
)
def test_grouped_percentiles_equal_numpy_per_group(
    values: np.ndarray, n_groups: int, seed: int
) -> None:
    groups = np.random.default_rng(seed).integers(-1, n_groups, values.size)
    out = grouped_percentiles(values, groups, n_groups)
    for k in range(n_groups):
        sel = values[groups == k]
        if sel.size == 0:
            assert np.isnan(out[k]).all()
        else:
            np.testing.assert_array_equal(out[k], np.percentile(sel, QUANTILES_PCT))


@settings(max_examples=40, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 200), elements=finite), seed=st.integers(0, 99))
def test_percentiles_do_not_depend_on_order(values: np.ndarray, seed: int) -> None:
    shuffled = np.random.default_rng(seed).permutation(values)
    assert percentiles(values) == percentiles(shuffled)
    assert percentiles(values) == list(np.percentile(values, QUANTILES_PCT))


def test_nan_is_ignored_and_empty_gives_nan() -> None:
    assert percentiles([np.nan, 1.0, 3.0], [50]) == [2.0]
    assert np.isnan(percentiles([np.nan], [50])[0])
