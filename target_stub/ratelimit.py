"""Per-API-key request and token buckets with OpenAI's ``x-ratelimit-*`` headers.

Each key has a requests bucket (capacity = requests per minute) and a tokens bucket
(capacity = tokens per minute), both refilled continuously at capacity / 60 s, as OpenAI
describes its limits. A request is charged 1 request and its prompt tokens plus its output
cap (``max_tokens``, else the preset's mean output length), at admission: like OpenAI, the
charge is an estimate made before generation. A rejected request is charged nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from target_stub.config import RateLimitConfig
from target_stub.errors import ApiError, OverloadKind, rate_limited

# Full buckets carry no state; past this many keys they are dropped (bounds memory when
# auth is off and clients send arbitrary bearer tokens).
_MAX_KEYS = 10_000


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: "12ms", "1.5s", "6m0s"."""
    if seconds < 1.0:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{math.ceil(seconds * 10) / 10:g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"


class TokenBucket:
    """A bucket of ``capacity`` refilled at ``capacity / 60`` per second."""

    __slots__ = ("_rate_per_s", "_updated_s", "capacity", "level")

    def __init__(self, capacity: int, now_s: float) -> None:
        self.capacity = capacity
        self.level = float(capacity)
        self._rate_per_s = capacity / 60.0
        self._updated_s = now_s

    def refill(self, now_s: float) -> None:
        elapsed = max(0.0, now_s - self._updated_s)
        self.level = min(float(self.capacity), self.level + elapsed * self._rate_per_s)
        self._updated_s = now_s

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` is available (inf if it exceeds the capacity)."""
        if amount > self.capacity:
            return math.inf
        return max(0.0, (amount - self.level) / self._rate_per_s)

    def reset_s(self) -> float:
        """Seconds until the bucket is full again."""
        return (self.capacity - self.level) / self._rate_per_s

    @property
    def full(self) -> bool:
        return self.level >= self.capacity


@dataclass(frozen=True, slots=True)
class RateDecision:
    headers: dict[str, str]
    error: ApiError | None


class RateLimiter:
    """Admission by key; ``clock`` is seconds (monotonic)."""

    def __init__(self, config: RateLimitConfig, *, clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        self._buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}

    def _for(self, key: str, now_s: float) -> tuple[TokenBucket | None, TokenBucket | None]:
        pair = self._buckets.get(key)
        if pair is None:
            if len(self._buckets) >= _MAX_KEYS:
                self._evict_full(now_s)
            rpm = self._config.requests_per_minute
            tpm = self._config.tokens_per_minute
            pair = (
                TokenBucket(rpm, now_s) if rpm is not None else None,
                TokenBucket(tpm, now_s) if tpm is not None else None,
            )
            self._buckets[key] = pair
        return pair

    def _evict_full(self, now_s: float) -> None:
        for key, pair in list(self._buckets.items()):
            for bucket in pair:
                if bucket is not None:
                    bucket.refill(now_s)
            if all(b is None or b.full for b in pair):
                del self._buckets[key]

    def admit(self, key: str, tokens: int) -> RateDecision:
        """Charge one request of ``tokens`` to ``key`` or explain why not."""
        now_s = self._clock()
        requests, token_bucket = self._for(key, now_s)
        for bucket in (requests, token_bucket):
            if bucket is not None:
                bucket.refill(now_s)
        error: ApiError | None = None
        if requests is not None and requests.level < 1.0:
            wait_s = requests.wait_s(1.0)
            error = _limit_error("requests", requests, 1, wait_s)
        elif token_bucket is not None and token_bucket.level < tokens:
            wait_s = token_bucket.wait_s(tokens)
            error = _limit_error("tokens", token_bucket, tokens, wait_s)
        if error is None:
            if requests is not None:
                requests.level -= 1.0
            if token_bucket is not None:
                token_bucket.level -= tokens
        headers = _headers(requests, token_bucket)
        if error is not None:
            error.headers = {**headers, **error.headers}
        return RateDecision(headers=headers, error=error)


def _limit_error(
    kind: OverloadKind, bucket: TokenBucket, requested: int, wait_s: float
) -> ApiError:
    used = bucket.capacity - math.floor(bucket.level)
    per = "RPM" if kind == "requests" else "TPM"
    if math.isinf(wait_s):
        message = (
            f"Request too large: {requested} {kind} requested but the limit is "
            f"{bucket.capacity} {per}."
        )
        wait_s = 60.0
    else:
        message = (
            f"Rate limit reached for {kind} ({per}): Limit {bucket.capacity}, Used {used}, "
            f"Requested {requested}. Please try again in {format_duration(wait_s)}."
        )
    return rate_limited(message, kind=kind, retry_after_s=wait_s, headers={})


def _headers(requests: TokenBucket | None, tokens: TokenBucket | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, bucket in (("requests", requests), ("tokens", tokens)):
        if bucket is None:
            continue
        headers[f"x-ratelimit-limit-{name}"] = str(bucket.capacity)
        headers[f"x-ratelimit-remaining-{name}"] = str(max(0, math.floor(bucket.level)))
        headers[f"x-ratelimit-reset-{name}"] = format_duration(bucket.reset_s())
    return headers
