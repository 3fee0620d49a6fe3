"""Load-generator health: CPU per Locust process, schedule lag, drops, and the validity verdict.

A run where the generator itself was the bottleneck measures the generator, not the target:
``judge_validity`` marks it ``client_limited`` with the reasons. Thresholds:

- CPU: a process above 90 % of one core for more than 10 % of its one-second samples;
- schedule lag (sent - intended, open loop): p99 above 50 ms;
- drops: any open-loop arrival dropped at the in-flight cap.

Lag percentiles come from a log-bucket histogram (1 % relative resolution, mergeable across
processes); exact per-request lags are in the records (``t_sent_s - t_intended_s``).
Pure: no locust or gevent import; ``CpuSampler`` reads psutil when called.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import psutil

logger = logging.getLogger(__name__)

CPU_LIMIT_FRAC: Final = 0.90
CPU_LIMIT_TIME_FRAC: Final = 0.10
LAG_P99_LIMIT_MS: Final = 50.0
_LAG_RESOLUTION_MS: Final = 0.01
_LAG_GROWTH: Final = 1.01


def lag_bucket(lag_ms: float) -> int:
    return int(math.log1p(max(lag_ms, 0.0) / _LAG_RESOLUTION_MS) / math.log(_LAG_GROWTH))


def lag_bucket_upper_ms(bucket: int) -> float:
    return _LAG_RESOLUTION_MS * (_LAG_GROWTH ** (bucket + 1) - 1.0)


def histogram_quantile_ms(buckets: Counter[int], q: float) -> float | None:
    total = sum(buckets.values())
    if total == 0:
        return None
    rank = math.ceil(q * total)
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return lag_bucket_upper_ms(bucket)
    return lag_bucket_upper_ms(max(buckets))


@dataclass
class HealthLedger:
    """Accumulates health samples of one or more processes (mutable; one per process/master)."""

    cpu_frac: dict[str, list[float]] = field(default_factory=dict)
    lag_buckets: Counter[int] = field(default_factory=Counter)
    dropped: int = 0
    warnings: list[str] = field(default_factory=list)

    def add_cpu(self, process_id: str, frac: float) -> None:
        self.cpu_frac.setdefault(process_id, []).append(frac)
        if frac > CPU_LIMIT_FRAC:
            self.warn(f"CPU of Locust process {process_id} above {CPU_LIMIT_FRAC:.0%}")

    def add_lag_ms(self, lag_ms: float) -> None:
        self.lag_buckets[lag_bucket(lag_ms)] += 1

    def add_dropped(self, n: int = 1) -> None:
        if n > 0 and self.dropped == 0:
            self.warn("open-loop arrivals dropped at the in-flight cap")
        self.dropped += n

    def warn(self, message: str) -> None:
        """Log a warning the first time it occurs, and keep it for the manifest."""
        if message not in self.warnings:
            self.warnings.append(message)
            logger.warning("load generator health: %s", message)

    def merge_report(self, report: dict[str, Any]) -> None:
        """Fold in a worker's ``report()`` (sent over Locust's message channel)."""
        for process_id, samples in report.get("cpu_frac", {}).items():
            for frac in samples:
                self.add_cpu(str(process_id), float(frac))
        for bucket, count in report.get("lag_buckets", {}).items():
            self.lag_buckets[int(bucket)] += int(count)
        self.add_dropped(int(report.get("dropped", 0)))
        for message in report.get("warnings", []):
            self.warn(str(message))

    def report(self) -> dict[str, Any]:
        """Everything since the previous report, JSON-able; resets the ledger."""
        out: dict[str, Any] = {
            "cpu_frac": self.cpu_frac,
            "lag_buckets": {str(k): v for k, v in self.lag_buckets.items()},
            "dropped": self.dropped,
            "warnings": list(self.warnings),
        }
        self.cpu_frac = {}
        self.lag_buckets = Counter()
        self.dropped = 0
        return out

    def lag_p99_ms(self) -> float | None:
        return histogram_quantile_ms(self.lag_buckets, 0.99)

    def summary(self, processes: int) -> dict[str, Any]:
        """The manifest's ``loadgen`` object."""
        all_cpu = [f for samples in self.cpu_frac.values() for f in samples]
        lag = self.lag_p99_ms()
        return {
            "processes": processes,
            "cpu_max_frac": round(max(all_cpu), 4) if all_cpu else None,
            "cpu_mean_frac": round(sum(all_cpu) / len(all_cpu), 4) if all_cpu else None,
            "schedule_lag_p99_ms": None if lag is None else round(lag, 3),
            "dropped": self.dropped,
            "warnings": list(self.warnings),
        }

    def validity(self) -> dict[str, Any]:
        return judge_validity(self.cpu_frac, self.lag_p99_ms(), self.dropped)


def judge_validity(
    cpu_frac: dict[str, list[float]], lag_p99_ms: float | None, dropped: int
) -> dict[str, Any]:
    """The manifest's ``validity`` object: ``{client_limited, reasons}``."""
    reasons: list[str] = []
    for process_id, samples in sorted(cpu_frac.items()):
        if not samples:
            continue
        busy = sum(1 for f in samples if f > CPU_LIMIT_FRAC) / len(samples)
        if busy > CPU_LIMIT_TIME_FRAC:
            reasons.append(
                f"load generator CPU: process {process_id} above {CPU_LIMIT_FRAC:.0%} of a core "
                f"for {busy:.0%} of the run (limit {CPU_LIMIT_TIME_FRAC:.0%})"
            )
    if lag_p99_ms is not None and lag_p99_ms > LAG_P99_LIMIT_MS:
        reasons.append(
            f"schedule lag p99 {lag_p99_ms:.1f} ms above {LAG_P99_LIMIT_MS:.0f} ms: "
            "requests were sent later than intended"
        )
    if dropped > 0:
        reasons.append(f"{dropped} open-loop arrivals dropped at the in-flight cap")
    return {"client_limited": bool(reasons), "reasons": reasons}


class CpuSampler:
    """CPU of this process as a fraction of one core since the previous call."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)

    def sample_frac(self) -> float:
        return float(self._process.cpu_percent(None)) / 100.0
