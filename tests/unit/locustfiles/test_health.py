"""Load-generator health: lag percentiles, merging, and the client-limited verdict."""

from __future__ import annotations

import random

import numpy as np
import pytest

from locustfiles.health import HealthLedger, judge_validity


def test_lag_p99_within_one_percent_of_numpy() -> None:
    rng = random.Random(3)
    lags = [rng.lognormvariate(1.0, 1.2) for _ in range(20_000)]
    ledger = HealthLedger()
    for lag in lags:
        ledger.add_lag_ms(lag)
    p99 = ledger.lag_p99_ms()
    assert p99 is not None
    assert p99 == pytest.approx(float(np.quantile(lags, 0.99)), rel=0.011)


def test_worker_reports_merge_on_the_master() -> None:
    worker = HealthLedger()
    worker.add_cpu("worker-0-1", 0.5)
    worker.add_lag_ms(80.0)
    worker.add_dropped(3)
    master = HealthLedger()
    master.add_cpu("master", 0.05)
    master.merge_report(worker.report())
    assert worker.dropped == 0 and not worker.lag_buckets  # a report drains the worker
    summary = master.summary(processes=1)
    assert summary["cpu_max_frac"] == 0.5
    assert summary["dropped"] == 3
    assert summary["schedule_lag_p99_ms"] == pytest.approx(80.0, rel=0.011)
    assert "open-loop arrivals dropped at the in-flight cap" in summary["warnings"]


def test_a_healthy_run_is_valid() -> None:
    verdict = judge_validity({"local": [0.5] * 100 + [0.95] * 10}, 12.0, 0)
    assert verdict == {"client_limited": False, "reasons": []}


def test_saturated_cpu_lag_and_drops_each_invalidate() -> None:
    verdict = judge_validity({"worker-1-9": [0.95] * 20 + [0.5] * 80}, 51.0, 2)
    assert verdict["client_limited"]
    reasons = " | ".join(verdict["reasons"])
    assert "process worker-1-9 above 90%" in reasons
    assert "schedule lag p99 51.0 ms" in reasons
    assert "2 open-loop arrivals dropped" in reasons
