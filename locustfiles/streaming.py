"""Incremental Server-Sent Events decoder and OpenAI stream-chunk reader (pure, no I/O).

The decoder follows the WHATWG "event stream" parsing rules: lines end in CRLF, LF or CR;
``data`` lines accumulate; a blank line dispatches the event; ``:`` starts a comment; a
leading UTF-8 BOM is dropped. It keeps no assumption about where the network split the
bytes, so feeding the same stream in any chunking yields the same events (property-tested).
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

import orjson

_LINE_BREAK: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = b"\xef\xbb\xbf"
DONE_SENTINEL: Final = "[DONE]"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"


class SseEvent(NamedTuple):
    """One dispatched event: ``event`` type ("message" unless named), joined ``data`` lines.

    A NamedTuple rather than a frozen dataclass: one is built per streamed token, and tuple
    construction costs a fraction of a frozen dataclass's.
    """

    data: str
    event: str = "message"
    id: str | None = None


class SseDecoder:
    """Feed bytes as they arrive; get back the events completed by them."""

    __slots__ = ("_data", "_event", "_id", "_pending", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._pending = b""
        self._skip_lf = False  # the previous feed ended in CR: a following LF belongs to it
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    @property
    def idle(self) -> bool:
        """Between events: a whole ``data: ...`` event fed now would be dispatched on its own,
        leaving the decoder as it was (what ``single_data_line`` relies on)."""
        return (
            self._started
            and not self._pending
            and not self._data
            and not self._event
            and not self._skip_lf
        )

    def feed(self, chunk: bytes) -> list[SseEvent]:
        if not chunk:
            return []
        if self.idle and chunk.endswith(b"\n\n") and b"\r" not in chunk:
            fast = self._whole_data_events(chunk)
            if fast is not None:
                return fast
        return self._feed_general(chunk)

    def _whole_data_events(self, chunk: bytes) -> list[SseEvent] | None:
        """Fast path for what LLM servers send: whole ``data: ...`` events, one line each.

        Returns None (nothing consumed) when the chunk holds anything else, so the general
        parser handles it; for the chunks it accepts the result is identical.
        """
        events: list[SseEvent] = []
        event_id = self._id
        for block in chunk[:-2].split(b"\n\n"):
            if block[:6] != b"data: " or b"\n" in block:
                return None
            events.append(SseEvent(block[6:].decode("utf-8", "replace"), "message", event_id))
        return events

    def _feed_general(self, chunk: bytes) -> list[SseEvent]:
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._pending + chunk if self._pending else chunk
        if not self._started:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._pending = buf
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        if b"\r" in buf:
            lines = _LINE_BREAK.split(buf)
            # A trailing CR already ended its line; an LF in the next feed must not end another.
            self._skip_lf = buf.endswith(b"\r")
        else:
            lines = buf.split(b"\n")
        self._pending = lines.pop()
        events: list[SseEvent] = []
        for line in lines:
            if line:
                self._field(line)
            elif self._data:
                events.append(SseEvent("\n".join(self._data), self._event or "message", self._id))
                self._data = []
                self._event = ""
            else:
                self._event = ""
        return events

    def _field(self, line: bytes) -> None:
        if line[:1] == b":":
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\x00" not in value:
            self._id = value.decode("utf-8", "replace")


def single_data_line(chunk: bytes) -> bytes | None:
    """The data of ``chunk`` when it is exactly one event of one ``data: `` line, else None.

    What LLM servers send per token. For an ``idle`` decoder, feeding such a chunk yields
    one event whose ``data`` is this value decoded, so a caller may skip the decoder.
    """
    if chunk[:6] == b"data: " and chunk.find(b"\n") == len(chunk) - 2 and chunk[-1:] == b"\n":
        return None if b"\r" in chunk else chunk[6:-2]
    return None


def chunked_data_line(data: bytes) -> bytes | None:
    """The event data when ``data`` is exactly one HTTP chunk that holds exactly one SSE event
    of one ``data: `` line (``<hex>\\r\\ndata: X\\n\\n\\r\\n``), else None.

    For a body decoder between chunks and an idle SSE decoder, feeding such bytes to both
    yields one event whose data is ``X`` (decoded) and leaves both as they were.
    """
    eol = data.find(b"\r\n", 0, 18)
    end = len(data) - 4
    if eol <= 0 or data[end:] != b"\n\n\r\n" or data[eol + 2 : eol + 8] != b"data: ":
        return None
    size = data[:eol]
    if size.strip(_HEX_DIGITS) or int(size, 16) != end + 2 - (eol + 2):
        return None
    if data.find(b"\n", eol + 8) != end or data.find(b"\r", eol + 2) != end + 2:
        return None
    return data[eol + 8 : end]


class StreamChunk(NamedTuple):
    """What one OpenAI-style stream chunk means for the measurement.

    ``content_chars`` counts the characters of output it carries (text, reasoning text or
    tool-call arguments); 0 means a role/finish/usage-only chunk.
    """

    content_chars: int
    text: str
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    error: str | None = None
    done: bool = False


_DONE_CHUNK: Final = StreamChunk(content_chars=0, text="", done=True)
_DONE_BYTES: Final = DONE_SENTINEL.encode()


def read_chunk(data: str) -> StreamChunk:
    """Interpret the ``data`` of one chat or text-completion stream event.

    Raises ValueError when the data is not a JSON object (a protocol error). orjson rather
    than json: this runs once per streamed token and orjson parses a chunk about 4x faster.
    """
    if data == DONE_SENTINEL:
        return _DONE_CHUNK
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"stream event is not JSON: {data[:80]!r}") from exc
    if type(obj) is not dict:
        raise ValueError(f"stream event is not a JSON object: {data[:80]!r}")
    return _chunk_of(obj)


def read_chunk_bytes(payload: bytes) -> StreamChunk | None:
    """``read_chunk`` for a ``data`` value still in bytes, without decoding it first.

    Returns None where ``read_chunk`` would need the decoded text to decide (invalid UTF-8,
    which the SSE decoder replaces, or data that is not a JSON object, which is an error
    whose message quotes it): the caller then takes the general path. Otherwise the result
    equals ``read_chunk(payload.decode("utf-8", "replace"))`` (property-tested).
    """
    if payload == _DONE_BYTES:
        return _DONE_CHUNK
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return _chunk_of(obj) if type(obj) is dict else None


def _chunk_of(obj: dict[str, Any]) -> StreamChunk:
    error = obj.get("error")
    if error is not None:
        return StreamChunk(content_chars=0, text="", error=_error_text(error))
    choices = obj.get("choices")
    text = _choice_text(choices) if choices else ""
    usage = obj.get("usage")
    if type(usage) is dict:
        return StreamChunk(
            content_chars=len(text),
            text=text,
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        )
    return StreamChunk(len(text), text)


def _choice_text(choices: Any) -> str:
    if type(choices) is not list:
        return ""
    choice = choices[0]
    if type(choice) is not dict:
        return ""
    delta = choice.get("delta")
    if type(delta) is dict:
        content = delta.get("content")
        if len(delta) == 1 and type(content) is str:
            return content  # the common content chunk: {"content": "..."}
        # Reasoning and tool-call arguments are output tokens too: they count for TTFT.
        parts = [content, delta.get("reasoning_content"), delta.get("reasoning")]
        text = "".join(p for p in parts if type(p) is str)
        tool_calls = delta.get("tool_calls")
        if type(tool_calls) is list:
            for call in tool_calls:
                fn = call.get("function") if type(call) is dict else None
                args = fn.get("arguments") if type(fn) is dict else None
                if type(args) is str:
                    text += args
        return text
    plain = choice.get("text")
    return plain if type(plain) is str else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code") or error.get("type")
        return f"{code}: {message}" if code else str(message)
    return str(error)
