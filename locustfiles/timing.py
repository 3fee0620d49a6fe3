"""Latency arithmetic from chunk timestamps (pure); the formulas docs/METRICS.md states.

All inputs and outputs are seconds on the run's t0 axis (``RunClock``); nothing here reads a
clock except ``RunClock.now_s``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from math import floor

from locustfiles.records import RequestRecord


@dataclass(frozen=True, slots=True)
class RunClock:
    """Maps this process's ``time.perf_counter`` onto seconds since the run's t0.

    ``perf_at_t0`` is the perf_counter value that corresponds to ``t0_epoch_s``; it is derived
    once per process from one (time.time, perf_counter) pair, so every later timestamp has
    perf_counter resolution and no wall-clock jumps.
    """

    t0_epoch_s: float
    perf_at_t0: float

    @classmethod
    def starting_at(cls, t0_epoch_s: float) -> RunClock:
        perf_now = time.perf_counter()
        epoch_now = time.time()
        return cls(t0_epoch_s=t0_epoch_s, perf_at_t0=perf_now - (epoch_now - t0_epoch_s))

    def now_s(self) -> float:
        return time.perf_counter() - self.perf_at_t0

    def to_run_s(self, perf_s: float) -> float:
        return perf_s - self.perf_at_t0


def tokens_per_chunk(chunk_chars: Sequence[int], total_tokens: int | None) -> list[int]:
    """How many tokens each content chunk carried.

    One per chunk unless the usage report says there were more tokens than chunks (servers
    that batch tokens into one chunk); then the total is shared in proportion to each chunk's
    characters, every chunk keeping at least one token and the shares summing to the total.
    """
    n = len(chunk_chars)
    if n == 0:
        return []
    if total_tokens is None or total_tokens <= n:
        return [1] * n
    extra = total_tokens - n
    weights = [max(c, 1) for c in chunk_chars]
    scale = extra / sum(weights)
    raw = [w * scale for w in weights]
    shares = [int(r) for r in raw]
    # Largest-remainder rounding keeps the sum exact.
    order = sorted(range(n), key=lambda i: raw[i] - shares[i], reverse=True)
    for i in order[: extra - sum(shares)]:
        shares[i] += 1
    return [1 + s for s in shares]


def inter_token_latencies_s(chunk_times_s: Sequence[float], tokens: Sequence[int]) -> list[float]:
    """Gap before each content chunk after the first, divided by the tokens that chunk carried."""
    return [
        (chunk_times_s[i] - chunk_times_s[i - 1]) / tokens[i] for i in range(1, len(chunk_times_s))
    ]


def rounded_inter_token_latencies_s(
    chunk_times_s: Sequence[float], tokens: Sequence[int]
) -> list[float]:
    """``inter_token_latencies_s`` rounded half up to the microsecond, as records store them.

    ``floor(gap * 1e6 + 0.5) / 1e6`` instead of ``round(gap, 6)``: the same rounding but for
    exact ties (which go up), at half the cost; it runs over every gap of every request.
    """
    if tokens.count(1) == len(tokens):
        return [floor((b - a) * 1e6 + 0.5) / 1e6 for a, b in itertools.pairwise(chunk_times_s)]
    return [floor(gap * 1e6 + 0.5) / 1e6 for gap in inter_token_latencies_s(chunk_times_s, tokens)]


def ttft_s(record: RequestRecord) -> float | None:
    """First content token minus request sent."""
    if record.t_first_token_s is None:
        return None
    return record.t_first_token_s - record.t_sent_s


def ttft_from_intended_s(record: RequestRecord) -> float | None:
    """First content token minus intended start (open loop only)."""
    if record.t_first_token_s is None or record.t_intended_s is None:
        return None
    return record.t_first_token_s - record.t_intended_s


def time_to_first_chunk_s(record: RequestRecord) -> float | None:
    """First event of any kind (vLLM's role chunk) minus request sent."""
    if record.t_first_chunk_s is None:
        return None
    return record.t_first_chunk_s - record.t_sent_s


def tpot_s(record: RequestRecord) -> float | None:
    """(last token - first token) / (output_tokens - 1); None below two tokens."""
    if record.t_first_token_s is None or record.t_last_token_s is None:
        return None
    if record.output_tokens < 2:
        return None
    return (record.t_last_token_s - record.t_first_token_s) / (record.output_tokens - 1)


def e2e_s(record: RequestRecord) -> float:
    """Done minus sent."""
    return record.t_done_s - record.t_sent_s


def e2e_from_intended_s(record: RequestRecord) -> float | None:
    if record.t_intended_s is None:
        return None
    return record.t_done_s - record.t_intended_s
