"""Reading one HTTP response into what the measurement needs (stdlib only).

``Attempt`` collects what one attempt observed, as ``time.perf_counter`` timestamps taken the
moment each socket read returns (before parsing): the stream's first event of any kind, each
content chunk and its characters, the usage report, status, headers and error.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from locustfiles.connection import HttpConnection
from locustfiles.http_wire import BodyDecoder
from locustfiles.streaming import SseDecoder, read_chunk

_MAX_ERROR_BODY_BYTES: Final = 4096


@dataclass(slots=True)
class Attempt:
    """What one attempt observed; perf_counter timestamps."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None
    t_first_chunk: float | None = None
    content_times: list[float] = field(default_factory=list)
    content_chars: list[int] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    t_done: float = 0.0


def read_stream(
    conn: HttpConnection,
    decoder: BodyDecoder,
    first: bytes,
    *,
    deadline: float,
    attempt: Attempt,
    collect_text: bool,
) -> None:
    sse = SseDecoder()
    times = attempt.content_times
    chars = attempt.content_chars
    done = False
    for piece in conn.iter_body(decoder, first, deadline_perf=deadline):
        t = conn.last_read_perf  # when these bytes arrived, before any parsing
        for event in sse.feed(piece):
            if attempt.t_first_chunk is None:
                attempt.t_first_chunk = t
            chunk = read_chunk(event.data)
            if chunk.content_chars:
                times.append(t)
                chars.append(chunk.content_chars)
                if collect_text:
                    attempt.text_parts.append(chunk.text)
            if chunk.completion_tokens is not None:
                attempt.completion_tokens = chunk.completion_tokens
                attempt.prompt_tokens = chunk.prompt_tokens
            if chunk.error is not None:
                attempt.error_kind, attempt.error = "aborted", chunk.error[:200]
            done = done or chunk.done
    if not done and attempt.error_kind is None:
        attempt.error_kind, attempt.error = "protocol", "stream ended without data: [DONE]"


def read_json(
    conn: HttpConnection, decoder: BodyDecoder, first: bytes, deadline: float, attempt: Attempt
) -> None:
    parts: list[bytes] = []
    t_last = 0.0
    for piece in conn.iter_body(decoder, first, deadline_perf=deadline):
        t_last = conn.last_read_perf
        if attempt.t_first_chunk is None:
            attempt.t_first_chunk = t_last
        parts.append(piece)
    body = orjson.loads(b"".join(parts))
    if not isinstance(body, dict):
        raise ValueError("response body is not a JSON object")
    usage = body.get("usage")
    if isinstance(usage, dict):
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        attempt.completion_tokens = completion if isinstance(completion, int) else None
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        attempt.prompt_tokens = prompt if isinstance(prompt, int) else None
    text = _body_text(body)
    if attempt.t_first_chunk is not None and (text or body.get("data")):
        # The whole output arrives in one body: first and last "token" bracket its bytes.
        attempt.content_times[:] = [attempt.t_first_chunk, t_last]
        attempt.content_chars.append(len(text))
        attempt.text_parts.append(text)


def read_error(
    conn: HttpConnection, decoder: BodyDecoder, first: bytes, deadline: float, attempt: Attempt
) -> None:
    parts: list[bytes] = []
    size = 0
    for piece in conn.iter_body(decoder, first, deadline_perf=deadline):
        if size < _MAX_ERROR_BODY_BYTES:
            parts.append(piece)
        size += len(piece)
    attempt.error_kind = "status"
    attempt.error = f"HTTP {attempt.status}: {_error_message(b''.join(parts))}"[:200]


def failed(attempt: Attempt, kind: str, message: str) -> None:
    attempt.error_kind = kind
    attempt.error = message[:200]
    attempt.t_done = time.perf_counter()


def timed_out(attempt: Attempt, abandons: bool) -> None:
    if abandons:
        failed(attempt, "abandoned", "user gave up (abandonment timeout)")
    else:
        failed(attempt, "timeout", "request timed out")


def _body_text(body: dict[str, Any]) -> str:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return str(message["content"])
        if isinstance(choice.get("text"), str):
            return str(choice["text"])
    return ""


def _error_message(raw: bytes) -> str:
    try:
        obj = json.loads(raw)
    except ValueError:
        return raw[:120].decode("utf-8", "replace")
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code') or error.get('type')}: {error.get('message')}"
    return raw[:120].decode("utf-8", "replace")
