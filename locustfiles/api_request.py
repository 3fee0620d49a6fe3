"""OpenAI-compatible request bodies for the four endpoints (pure).

``ApiCall.path`` is the route (``/chat/completions``, ...); the connection's endpoint carries
the API base path it goes under (``connection.api_endpoint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from locustfiles.workload import Tier, Turn

ROUTES: Final = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "images": "/images/generations",
}


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One logical request, ready to send (possibly several times, when retried)."""

    endpoint: str
    path: str
    body: bytes
    stream: bool
    prompt_tokens: int
    tier: str | None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RequestStyle:
    """Body options shared by every request of a run."""

    model: str
    stream: bool = True
    include_usage: bool = True
    ignore_eos: bool = False
    image_size: str = "1024x1024"
    image_model: str | None = None
    embedding_model: str | None = None

    def path(self, endpoint: str) -> str:
        try:
            return ROUTES[endpoint]
        except KeyError:
            raise ValueError(f"Unknown endpoint {endpoint!r}; known: {', '.join(ROUTES)}") from None


def _tier_fields(body: dict[str, Any], tier: Tier | None) -> tuple[tuple[str, str], ...]:
    if tier is None:
        return ()
    body["user"] = f"tier-{tier.name}"
    if tier.priority is not None:
        body["priority"] = tier.priority
    return (("x-surgebench-tier", tier.name),)


def _encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)  # a request body per request: several times faster than json


def chat_call(style: RequestStyle, turn: Turn) -> ApiCall:
    body: dict[str, Any] = {
        "model": style.model,
        "messages": list(turn.messages),
        "max_tokens": turn.max_tokens,
        "stream": style.stream,
    }
    if style.stream and style.include_usage:
        body["stream_options"] = {"include_usage": True}
    if style.ignore_eos:
        body["ignore_eos"] = True
    headers = _tier_fields(body, turn.tier)
    return ApiCall(
        endpoint="chat",
        path=style.path("chat"),
        body=_encode(body),
        stream=style.stream,
        prompt_tokens=turn.prompt_tokens,
        tier=turn.tier.name if turn.tier else None,
        headers=headers,
    )


def completion_call(style: RequestStyle, turn: Turn, *, stream: bool = False) -> ApiCall:
    body: dict[str, Any] = {
        "model": style.model,
        "prompt": turn.prompt_text,
        "max_tokens": turn.max_tokens,
        "stream": stream,
    }
    if stream and style.include_usage:
        body["stream_options"] = {"include_usage": True}
    if style.ignore_eos:
        body["ignore_eos"] = True
    headers = _tier_fields(body, turn.tier)
    return ApiCall(
        endpoint="completions",
        path=style.path("completions"),
        body=_encode(body),
        stream=stream,
        prompt_tokens=turn.prompt_tokens,
        tier=turn.tier.name if turn.tier else None,
        headers=headers,
    )


def embedding_call(style: RequestStyle, turn: Turn) -> ApiCall:
    body: dict[str, Any] = {
        "model": style.embedding_model or style.model,
        "input": turn.prompt_text,
    }
    headers = _tier_fields(body, turn.tier)
    return ApiCall(
        endpoint="embeddings",
        path=style.path("embeddings"),
        body=_encode(body),
        stream=False,
        prompt_tokens=turn.prompt_tokens,
        tier=turn.tier.name if turn.tier else None,
        headers=headers,
    )


def image_call(style: RequestStyle, turn: Turn) -> ApiCall:
    body: dict[str, Any] = {
        "model": style.image_model or style.model,
        "prompt": turn.prompt_text,
        "n": 1,
        "size": style.image_size,
    }
    headers = _tier_fields(body, turn.tier)
    return ApiCall(
        endpoint="images",
        path=style.path("images"),
        body=_encode(body),
        stream=False,
        prompt_tokens=turn.prompt_tokens,
        tier=turn.tier.name if turn.tier else None,
        headers=headers,
    )
