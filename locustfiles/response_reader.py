"""Reading one HTTP response into what the measurement needs (stdlib only).

``Attempt`` collects what one attempt observed, as ``time.perf_counter`` timestamps taken the
moment each socket read returns (before parsing): the stream's first event of any kind, each
content chunk and its characters, the usage report, status, headers and error.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import orjson

from locustfiles.connection import HttpConnection
from locustfiles.http_wire import BodyDecoder
from locustfiles.streaming import (
    SseDecoder,
    StreamChunk,
    read_chunk,
    read_chunk_bytes,
    single_data_line,
)

_MAX_ERROR_BODY_BYTES: Final = 4096


@dataclass(slots=True)
class Attempt:
    """What one attempt observed; perf_counter timestamps."""

    t_sent: float | None = None
    """When the request started on the wire: before the connect when a new connection was
    opened for it, else right before its bytes were handed to the kept-alive socket."""
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


class StreamParser:
    """Turns the body bytes of one SSE stream into the attempt's observations.

    ``feed(piece, t)`` takes the body bytes one socket read returned and ``t``, the
    ``perf_counter`` value taken right after that read; ``end()`` checks the stream ended
    properly. Shared by the greenlet reader below and the event-loop reader
    (``locustfiles/loop_reader.py``), so both measure the same way.
    """

    __slots__ = ("_attempt", "_collect_text", "_sse", "done")

    def __init__(self, attempt: Attempt, *, collect_text: bool) -> None:
        self._attempt = attempt
        self._collect_text = collect_text
        self._sse = SseDecoder()
        self.done = False

    def feed(self, piece: bytes, t: float) -> None:
        sse = self._sse
        if sse.idle:
            # Fast path for one ``data:`` event per read: no SseEvent, no str decode.
            data = single_data_line(piece)
            if data is not None:
                chunk = read_chunk_bytes(data)
                if chunk is not None:
                    self.take(chunk, t)
                    return
        for event in sse.feed(piece):
            self.take(read_chunk(event.data), t)

    @property
    def idle(self) -> bool:
        """Between SSE events: a whole one-line ``data:`` event may bypass ``feed``."""
        return self._sse.idle

    def take(self, chunk: StreamChunk, t: float) -> None:
        """Record one parsed event that arrived at ``t``."""
        attempt = self._attempt
        if attempt.t_first_chunk is None:
            attempt.t_first_chunk = t
        if chunk.content_chars:
            attempt.content_times.append(t)
            attempt.content_chars.append(chunk.content_chars)
            if self._collect_text:
                attempt.text_parts.append(chunk.text)
        if chunk.completion_tokens is not None:
            attempt.completion_tokens = chunk.completion_tokens
            attempt.prompt_tokens = chunk.prompt_tokens
        if chunk.error is not None:
            attempt.error_kind, attempt.error = "aborted", chunk.error[:200]
        if chunk.done:
            self.done = True

    def end(self) -> None:
        attempt = self._attempt
        if not self.done and attempt.error_kind is None:
            attempt.error_kind, attempt.error = "protocol", "stream ended without data: [DONE]"


class StreamReader(Protocol):
    """How a stream's body is read: ``read_stream`` or ``loop_reader.read_stream_in_loop``."""

    def __call__(
        self,
        conn: HttpConnection,
        decoder: BodyDecoder,
        first: bytes,
        *,
        deadline: float,
        attempt: Attempt,
        collect_text: bool,
    ) -> None: ...


def read_stream(
    conn: HttpConnection,
    decoder: BodyDecoder,
    first: bytes,
    *,
    deadline: float,
    attempt: Attempt,
    collect_text: bool,
) -> None:
    """Read a stream in the calling greenlet (or thread): one wake-up per socket read."""
    parser = StreamParser(attempt, collect_text=collect_text)
    for piece in conn.iter_body(decoder, first, deadline_perf=deadline):
        parser.feed(piece, conn.last_read_perf)  # when these bytes arrived, before parsing
    parser.end()


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
