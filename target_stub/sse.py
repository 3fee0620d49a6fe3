"""Server-sent-event chunk encoding for chat and text completions, as pre-encoded bytes.

Every stream builds its constant JSON prefix and suffix once; a content chunk is then
``prefix + text + suffix``, with ``text`` already JSON-safe (``target_stub.text`` guarantees
it). The HTTP/1.1 chunked framing is added here too because the stream writer bypasses
aiohttp's writer for speed (one ``transport.write`` per stream per engine step).

Event sequence (REFERENCE section 2, as OpenAI and vLLM send it): chat's first event carries
``delta: {"role": "assistant", "content": ""}``; content events; a final event with an empty
delta and ``finish_reason``; with ``include_usage`` a usage event with ``choices: []`` while
every earlier event carries ``"usage": null``; then ``data: [DONE]``.
"""

from __future__ import annotations

import json
from typing import Literal

from target_stub.errors import ApiError

Endpoint = Literal["chat", "completions"]

DONE_EVENT = b"data: [DONE]\n\n"
HTTP_CHUNK_END = b"0\r\n\r\n"
_USAGE_NULL = b',"usage":null'


def http_chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk (``Transfer-Encoding: chunked``) carrying ``payload``."""
    return b"%x\r\n%b\r\n" % (len(payload), payload)


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class ChunkEncoder:
    """Pre-encoded event bytes of one stream (one per request)."""

    __slots__ = ("_created", "_endpoint", "_id", "_include_usage", "_model", "prefix", "suffix")

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        request_id: str,
        created_s: int,
        model: str,
        include_usage: bool,
    ) -> None:
        self._endpoint = endpoint
        self._id = request_id
        self._created = created_s
        self._model = model
        self._include_usage = include_usage
        head = (
            f'data: {{"id":{json.dumps(request_id)},"object":"{self._object}",'
            f'"created":{created_s},"model":{json.dumps(model)},"choices":[{{"index":0,'
        ).encode()
        tail = b',"logprobs":null,"finish_reason":null}]' + (_USAGE_NULL if include_usage else b"")
        if endpoint == "chat":
            self.prefix = head + b'"delta":{"content":"'
            self.suffix = b'"}' + tail + b"}\n\n"
        else:
            self.prefix = head + b'"text":"'
            self.suffix = b'"' + tail + b"}\n\n"

    @property
    def _object(self) -> str:
        return "chat.completion.chunk" if self._endpoint == "chat" else "text_completion"

    def _envelope(self, choices: list[dict[str, object]]) -> dict[str, object]:
        body: dict[str, object] = {
            "id": self._id,
            "object": self._object,
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if self._include_usage:
            body["usage"] = None
        return body

    def content(self, text: bytes) -> bytes:
        """A content event; ``text`` must be JSON-string-safe UTF-8."""
        return self.prefix + text + self.suffix

    def role(self) -> bytes:
        """Chat's first event (empty for text completions, which have no role event)."""
        if self._endpoint != "chat":
            return b""
        delta = {"role": "assistant", "content": ""}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        return _event(self._envelope([choice]))

    def final(self, finish_reason: str) -> bytes:
        choice: dict[str, object]
        if self._endpoint == "chat":
            choice = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}
        else:
            choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish_reason}
        return _event(self._envelope([choice]))

    def usage(self, *, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The usage event (``choices: []``); empty unless ``include_usage`` was requested."""
        if not self._include_usage:
            return b""
        body = self._envelope([])
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return _event(body)


def error_event(error: ApiError) -> bytes:
    """An error after the stream started: ``data: {"error": ...}`` (then [DONE] follows)."""
    return _event(error.body())
