"""Token buckets and OpenAI's x-ratelimit-* headers, on an injected clock."""

from __future__ import annotations

import pytest

from target_stub.config import RateLimitConfig
from target_stub.errors import ApiError
from target_stub.ratelimit import RateLimiter, format_duration


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0121, "13ms"), (0.0, "0ms"), (1.5, "1.5s"), (59.94, "60s"), (360, "6m0s")],
)
def test_durations_use_openai_reset_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_requests_bucket_rejects_beyond_rpm_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(requests_per_minute=2), clock=clock)
    first = limiter.admit("k", 10)
    assert first.error is None
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert "x-ratelimit-limit-tokens" not in first.headers
    assert limiter.admit("k", 10).error is None
    third = limiter.admit("k", 10)
    assert isinstance(third.error, ApiError)
    body = third.error.body()["error"]
    assert (third.error.status, body["type"], body["code"]) == (
        429,
        "requests",
        "rate_limit_exceeded",
    )
    assert third.error.headers["retry-after"] == "30"  # one request refills in 60/2 s
    assert third.error.headers["retry-after-ms"] == "30000"
    assert third.error.headers["x-ratelimit-remaining-requests"] == "0"
    assert limiter.admit("other-key", 10).error is None  # buckets are per key
    clock.now_s += 30.0
    assert limiter.admit("k", 10).error is None


def test_tokens_bucket_names_tokens_and_charges_nothing_on_rejection() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimitConfig(requests_per_minute=100, tokens_per_minute=600), clock=clock
    )
    assert limiter.admit("k", 500).error is None
    rejected = limiter.admit("k", 200)
    assert rejected.error is not None and rejected.error.type_ == "tokens"
    assert rejected.headers["x-ratelimit-remaining-requests"] == "99"  # not charged
    assert rejected.headers["x-ratelimit-remaining-tokens"] == "100"
    assert rejected.headers["x-ratelimit-reset-tokens"] == "50s"
    too_big = limiter.admit("k", 601)
    assert too_big.error is not None and "Request too large" in too_big.error.message
