"""The calibration workloads have the properties their sources give them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.calibration import workloads


def test_sharegpt_lengths_match_published_means_and_the_benchmark_filters() -> None:
    pairs = workloads.sharegpt_lengths(50_000, np.random.default_rng(7))
    prompts = np.array([p for p, _ in pairs])
    outputs = np.array([o for _, o in pairs])
    assert prompts.mean() == pytest.approx(230, rel=0.02)
    assert outputs.mean() == pytest.approx(195, rel=0.02)
    assert prompts.min() >= 4 and outputs.min() >= 4
    assert prompts.max() <= 1024
    assert (prompts + outputs).max() <= 2048


def test_sharegpt_lengths_are_reproducible_from_the_seed() -> None:
    a = workloads.sharegpt_lengths(100, np.random.default_rng(1))
    b = workloads.sharegpt_lengths(100, np.random.default_rng(1))
    assert a == b and len(a) == 100


def test_poisson_arrivals_have_the_requested_rate() -> None:
    rng = np.random.default_rng(3)
    requests = workloads.poisson([(10, 10)] * 20_000, 8.0, rng)
    times = [r.t_arrival_s for r in requests]
    assert times == sorted(times)
    assert len(times) / times[-1] == pytest.approx(8.0, rel=0.03)


def test_lognormal_lengths_have_the_requested_mean() -> None:
    lengths = workloads.lognormal_lengths(
        50_000, np.random.default_rng(2), mean_tokens=400, sigma=0.3
    )
    assert np.mean(lengths) == pytest.approx(400, rel=0.02)
