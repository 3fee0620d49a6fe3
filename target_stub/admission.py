"""Who gets in: the API-key check, the bounded waiting queue and the per-key rate limits.

Checks run in this order, before a request reaches an engine: API key (401), then the
replica's waiting queue (429 or 503, ``OverloadConfig``), then the key's rate limits (429,
``RateLimitConfig``). The queue check has no side effects, so a request shed for overload is
never charged against the key's rate limits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from target_stub.config import OverloadConfig, RateLimitConfig
from target_stub.errors import overloaded, rate_limited, unauthorized
from target_stub.ratelimit import RateLimiter
from target_stub.runner import EngineRunner

ANONYMOUS_KEY = "anonymous"


class Admission:
    """Admission control for one app; ``clock`` is monotonic seconds."""

    def __init__(
        self,
        *,
        overload: OverloadConfig,
        rate_limits: RateLimitConfig | None,
        api_keys: Collection[str] | None,
        clock: Callable[[], float],
    ) -> None:
        self._overload = overload
        self._api_keys = frozenset(api_keys) if api_keys is not None else None
        self._limiter = RateLimiter(rate_limits, clock=clock) if rate_limits else None

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The caller's key (for rate limiting); 401 when keys are required and it is wrong."""
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
        if self._api_keys is not None and key not in self._api_keys:
            raise unauthorized(provided=bool(key))
        return key or ANONYMOUS_KEY

    def overload_settings(self) -> dict[str, Any]:
        """The queue bounds in force (``GET /admin/overload``)."""
        return self._overload.model_dump()

    def update_overload(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some queue bounds at runtime (``POST /admin/overload``); a validation
        error names the bad field and changes nothing."""
        self._overload = OverloadConfig.model_validate({**self._overload.model_dump(), **changes})
        return self._overload.model_dump()

    def check_queue(self, runner: EngineRunner, prompt_tokens: int) -> None:
        """Raise 429/503 when the replica's waiting queue is at its configured bound."""
        cfg = self._overload
        if cfg.max_waiting_requests is None and cfg.max_waiting_tokens is None:
            return
        engine = runner.engine
        waiting = runner.outstanding - engine.num_running
        kind: str | None = None
        if cfg.max_waiting_requests is not None and waiting >= cfg.max_waiting_requests:
            kind = "requests"
        elif cfg.max_waiting_tokens is not None:
            queued = engine.waiting_prompt_tokens
            # A prompt larger than the whole bound is still admitted into an empty queue, so
            # that it is served eventually instead of being rejected forever.
            if queued > 0 and queued + prompt_tokens > cfg.max_waiting_tokens:
                kind = "tokens"
        if kind is None:
            return
        if cfg.reject_status == 503:
            raise overloaded(retry_after_s=cfg.retry_after_s)
        bound = cfg.max_waiting_requests if kind == "requests" else cfg.max_waiting_tokens
        message = (
            f"The server's waiting queue is full ({kind}: limit {bound}); please try again "
            f"in {cfg.retry_after_s:g}s."
        )
        raise rate_limited(
            message,
            kind="requests" if kind == "requests" else "tokens",
            retry_after_s=cfg.retry_after_s,
            headers={},
        )

    def charge(self, key: str, tokens: int) -> dict[str, str]:
        """Charge the key's buckets; the ``x-ratelimit-*`` headers, or 429 when over."""
        if self._limiter is None:
            return {}
        decision = self._limiter.admit(key, tokens)
        if decision.error is not None:
            raise decision.error
        return decision.headers
