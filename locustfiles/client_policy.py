"""How a client behaves when the service pushes back: retries, backoff, abandonment (pure).

Modes (``--retry``):

- ``none``: one attempt.
- ``backoff``: what the official OpenAI SDK does (REFERENCE.md section 2): retry 408, 409,
  429, 5xx and connection failures up to ``max_retries`` times, waiting ``retry-after-ms``,
  else ``retry-after`` (seconds or an HTTP date) when 0 < value <= 60 s, otherwise exponential
  backoff with full jitter: uniform(0, min(cap, base * 2**attempt)).
- ``naive``: retry immediately, ignoring retry-after: the client behaviour behind retry storms.

Abandonment: a user who gives up cancels the stream ``abandon_after_s`` after the request was
first sent (retries and waits included), and the request is recorded as ``abandoned``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final, Literal

RetryMode = Literal["none", "backoff", "naive"]
RETRY_MODES: Final = ("none", "backoff", "naive")
RETRYABLE_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    mode: RetryMode = "none"
    max_retries: int = 2
    base_s: float = 0.5
    cap_s: float = 8.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.mode not in RETRY_MODES:
            raise ValueError(f"Unknown retry mode {self.mode!r}; known: {', '.join(RETRY_MODES)}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError(
                f"need 0 < base_s <= cap_s, got base_s={self.base_s}, cap_s={self.cap_s}"
            )

    def should_retry(self, *, retries_done: int, status: int | None) -> bool:
        """Whether a failed attempt is retried; ``status`` None means no HTTP response at all."""
        if self.mode == "none" or retries_done >= self.max_retries:
            return False
        return status is None or status in self.statuses

    def delay_s(
        self,
        *,
        retries_done: int,
        headers: Mapping[str, str],
        rng: random.Random,
        now_epoch_s: float,
    ) -> float:
        """Seconds to wait before retry number ``retries_done + 1``."""
        if self.mode == "naive":
            return 0.0
        hinted = retry_after_s(headers, now_epoch_s=now_epoch_s)
        if hinted is not None and 0.0 < hinted <= MAX_RETRY_AFTER_S:
            return hinted
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**retries_done))


def retry_after_s(headers: Mapping[str, str], *, now_epoch_s: float) -> float | None:
    """The server's hint in seconds: ``retry-after-ms`` first, then ``retry-after``.

    ``headers`` has lower-case names. Unparseable or non-finite values count as absent.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value_ms = float(raw_ms)
        except ValueError:
            value_ms = math.nan
        if math.isfinite(value_ms):
            return value_ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value_s = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        return when.timestamp() - now_epoch_s
    return value_s if math.isfinite(value_s) else None


@dataclass(frozen=True, slots=True)
class AbandonPolicy:
    """``abandon_after_s`` None: the user waits until the request timeout."""

    abandon_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.abandon_after_s is not None and self.abandon_after_s <= 0:
            raise ValueError(f"abandon_after_s must be > 0 or None, got {self.abandon_after_s}")

    def deadline_s(self, t_sent_s: float) -> float:
        """The run time at which the user gives up on a request first sent at ``t_sent_s``."""
        return math.inf if self.abandon_after_s is None else t_sent_s + self.abandon_after_s
