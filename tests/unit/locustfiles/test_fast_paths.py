"""The stream fast paths give what the general decoders give, and do not silently stop working.

Three shortcuts skip the general HTTP-chunk and SSE decoders for the common "one read = one
chunk = one ``data:`` event" case: ``streaming.chunked_data_line`` (used by
``loop_reader``), ``streaming.read_chunk_bytes`` and ``StreamParser.feed``'s own. For every
input they accept, the general path must give the same result and leave the decoders where
they were; for the inputs LLM servers really send, they must accept.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.http_wire import BodyDecoder, ProtocolError, ResponseHead
from locustfiles.response_reader import Attempt, StreamParser
from locustfiles.streaming import (
    SseDecoder,
    StreamChunk,
    chunked_data_line,
    read_chunk,
    read_chunk_bytes,
    single_data_line,
)

_CHUNKED = ResponseHead(status=200, reason="OK", headers={"transfer-encoding": "chunked"})

# Any text, including what JSON must escape (quotes, backslashes, control characters, line
# breaks) and characters beyond the BMP; no lone surrogates (not encodable as UTF-8).
_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=24)
_LINE_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=24
)


# --- what servers send ------------------------------------------------------------------


def _chat(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


@st.composite
def _openai_objects(draw: st.DrawFn) -> dict[str, Any]:
    """One chat or completion stream chunk of every kind an OpenAI-compatible server sends."""
    text = draw(_TEXT)
    kind = draw(
        st.sampled_from(
            [
                "content", "content", "role", "reasoning", "reasoning_content", "tools",
                "finish", "usage", "usage_with_content", "error", "text_completion",
            ]
        )
    )  # fmt: skip
    tokens = draw(st.integers(0, 10**6))
    usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": tokens + 7}
    if kind == "content":
        return _chat({"content": text})
    if kind == "role":
        return _chat({"role": "assistant", "content": ""})
    if kind in ("reasoning", "reasoning_content"):
        return _chat({kind: text})
    if kind == "tools":
        function = {"name": "lookup", "arguments": text}
        return _chat({"tool_calls": [{"index": 0, "id": "call_1", "function": function}]})
    if kind == "finish":
        return _chat({}, "stop")
    if kind == "usage":
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": usage,
        }
    if kind == "usage_with_content":
        return _chat({"content": text}, usage=usage)
    if kind == "error":
        return {"error": {"message": text, "type": "server_error", "code": draw(st.none() | _TEXT)}}
    return {"object": "text_completion", "choices": [{"index": 0, "text": text}]}


@st.composite
def _openai_json(draw: st.DrawFn) -> bytes:
    obj = draw(_openai_objects())
    compact = draw(st.booleans())
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(obj, ensure_ascii=draw(st.booleans()), separators=separators).encode()


@st.composite
def _split_json(draw: st.DrawFn) -> bytes:
    """A chunk's JSON with one space between tokens turned into a line break.

    JSON takes the break as whitespace, SSE as the end of the line: a shortcut that misses a
    line break reads a valid chunk where the decoder sees a broken event or a second line.
    """
    obj = draw(_openai_objects())
    raw = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()
    spaces = [i for i in range(len(raw)) if raw[i : i + 1] == b" " and raw[i - 1 : i] in b",:"]
    if not spaces:
        return raw
    at = draw(st.sampled_from(spaces))
    brk = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b"\ndata: ", b"\rdata:", b"\n: c\n"]))
    return raw[:at] + brk + raw[at + 1 :]


_JSON_NON_OBJECTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
).map(lambda v: json.dumps(v).encode())

_DATA_VALUES = st.one_of(
    _openai_json(),
    _openai_json(),
    _split_json(),
    st.just(b"[DONE]"),
    st.sampled_from([b"[DONE] ", b"[done]", b"", b"{", b"{}", b"{} ", b'{"a":1e999}', b"null"]),
    _JSON_NON_OBJECTS,
    _TEXT.map(lambda s: s.encode()),
    _openai_json().map(lambda b: b[:-1] + b"\xff}"),  # invalid UTF-8 inside the JSON
    st.binary(max_size=24),
)


@st.composite
def _sse_payloads(draw: st.DrawFn) -> bytes:
    """A chunk's payload: mostly ``data: X\\n\\n``, else one of the shapes that is not that."""
    x: bytes = draw(_DATA_VALUES)
    y: bytes = draw(_DATA_VALUES)
    shape = draw(
        st.sampled_from(
            [
                "plain", "plain", "plain", "nospace", "two_events", "comment_then", "comment",
                "crlf", "cr", "one_newline", "three_newlines", "two_lines", "event_name",
                "id", "leading_newline", "trailing_space",
            ]
        )
    )  # fmt: skip
    shapes = {
        "plain": b"data: " + x + b"\n\n",
        "nospace": b"data:" + x + b"\n\n",
        "two_events": b"data: " + x + b"\n\ndata: " + y + b"\n\n",
        "comment_then": b": keep-alive\n\ndata: " + x + b"\n\n",
        "comment": b": " + x + b"\n\n",
        "crlf": b"data: " + x + b"\r\n\r\n",
        "cr": b"data: " + x + b"\r\r",
        "one_newline": b"data: " + x + b"\n",
        "three_newlines": b"data: " + x + b"\n\n\n",
        "two_lines": b"data: " + x + b"\ndata: " + y + b"\n\n",
        "event_name": b"event: delta\ndata: " + x + b"\n\n",
        "id": b"id: 4\ndata: " + x + b"\n\n",
        "leading_newline": b"\ndata: " + x + b"\n\n",
        "trailing_space": b"data: " + x + b" \n\n",
    }
    return shapes[shape]


@st.composite
def _chunk_reads(draw: st.DrawFn) -> bytes:
    """What one socket read may hold: ``<size line>\\r\\n<payload><tail>``, sizes right or not."""
    payload = draw(_sse_payloads())
    n = len(payload)
    size = draw(
        st.sampled_from(
            [
                "lower", "lower", "upper", "zeros", "zeros17", "plus", "0x", "space_before",
                "space_after", "ext", "empty_ext", "minus", "off_by_one", "short", "zero",
                "empty", "underscore",
            ]
        )
    )  # fmt: skip
    zeros = draw(st.integers(1, 20))
    sizes = {
        "lower": b"%x" % n,
        "upper": b"%X" % n,
        "zeros": b"0" * zeros + b"%x" % n,
        "zeros17": (b"%x" % n).rjust(17, b"0"),  # more than the 16 hex digits the decoder takes
        "plus": b"+%x" % n,
        "0x": b"0x%x" % n,
        "space_before": b" %x" % n,
        "space_after": b"%x " % n,
        "ext": b"%x;name=value" % n,
        "empty_ext": b"%x;" % n,
        "minus": b"-%x" % n,
        "off_by_one": b"%x" % (n + draw(st.sampled_from([-1, 1]))),
        "short": b"%x" % max(n - draw(st.integers(1, 8)), 0),
        "zero": b"0",
        "empty": b"",
        "underscore": b"1_%x" % n,
    }
    tail = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"", b"\r", b"\r\n\r\n"]))
    tail += draw(st.sampled_from([b"", b"", b"5\r\n", b"0\r\n\r\n"]))  # the next chunk begins
    return sizes[size] + b"\r\n" + payload + tail


_PRIMES = [b"\n", b": ready\n\n", b"data: {}\n\n", b"id: 3\n\n", b"event: ping\n\n"]


def _idle_sse(prime: bytes) -> SseDecoder:
    """A decoder that has seen the start of a stream and is between events."""
    sse = SseDecoder()
    sse.feed(prime)
    assert sse.idle
    return sse


def _general(data: bytes, prime: bytes) -> tuple[list[str], bool] | ProtocolError:
    """Event data the general decoders give for ``data`` and whether both end at a boundary."""
    body = BodyDecoder(_CHUNKED)
    assert body.between_chunks
    sse = _idle_sse(prime)
    try:
        piece = body.feed(data)
    except ProtocolError as exc:
        return exc
    events = sse.feed(piece)
    return [e.data for e in events], body.between_chunks and sse.idle


# --- a. chunked_data_line ---------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(_chunk_reads(), st.sampled_from(_PRIMES))
def test_chunked_data_line_agrees_with_the_decoders(data: bytes, prime: bytes) -> None:
    x = chunked_data_line(data)
    if x is not None:
        assert _general(data, prime) == ([x.decode("utf-8", "replace")], True)


@settings(max_examples=300, deadline=None)
@given(_openai_json(), st.sampled_from(_PRIMES))
def test_chunked_data_line_takes_what_servers_send(json_bytes: bytes, prime: bytes) -> None:
    """The fast path must not quietly stop applying: a server's usual read goes through it."""
    payload = b"data: " + json_bytes + b"\n\n"
    data = b"%x\r\n%s\r\n" % (len(payload), payload)
    assert chunked_data_line(data) == json_bytes
    assert _general(data, prime) == ([json_bytes.decode()], True)
    assert read_chunk_bytes(json_bytes) == read_chunk(json_bytes.decode())


_DONE = b"data: [DONE]\n\n"  # 14 bytes: size e


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"e\r\n" + _DONE + b"\r\n", b"[DONE]"),
        (b"E\r\n" + _DONE + b"\r\n", b"[DONE]"),
        (b"000000000000000e\r\n" + _DONE + b"\r\n", b"[DONE]"),  # 16 digits: allowed
        (b"0000000000000000e\r\n" + _DONE + b"\r\n", None),  # 17: the decoder refuses
        (b"8\r\ndata: \n\n\r\n", b""),
        (b"+e\r\n" + _DONE + b"\r\n", None),
        (b"0xe\r\n" + _DONE + b"\r\n", None),
        (b"e;x=1\r\n" + _DONE + b"\r\n", None),
        (b" e\r\n" + _DONE + b"\r\n", None),
        (b"d\r\n" + _DONE + b"\r\n", None),
        (b"f\r\n" + _DONE + b"\r\n", None),
        (b"e\r\n" + _DONE + b"\n", None),
        (b"e\r\n" + _DONE + b"\r\n0\r\n\r\n", None),
        (b"d\r\ndata:[DONE]\n\n\r\n", None),
        (b"10\r\ndata: [DONE]\r\n\r\n\r\n", None),
        (b"e\r\ndata: [DO\rE]\n\n\r\n", None),
        (b"e\r\ndata: [DO\nE]\n\n\r\n", None),
        (b"f\r\ndata: [DONE]\n\n\n\r\n", None),
        (b"1c\r\n: keep-alive\n\ndata: [DONE]\n\n\r\n", None),
        (b"0\r\n\r\n", None),
    ],
)
def test_chunked_data_line_examples(data: bytes, expected: bytes | None) -> None:
    assert chunked_data_line(data) == expected
    if expected is not None:
        assert _general(data, b"\n") == ([expected.decode()], True)


# --- b. read_chunk_bytes ----------------------------------------------------------------


def _utf8(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


@settings(max_examples=600, deadline=None)
@given(_DATA_VALUES)
def test_read_chunk_bytes_equals_read_chunk(payload: bytes) -> None:
    fast = read_chunk_bytes(payload)  # never raises: None sends the caller the general way
    slow: StreamChunk | ValueError
    try:
        slow = read_chunk(payload.decode("utf-8", "replace"))
    except ValueError as exc:
        slow = exc
    if fast is not None:
        assert fast == slow
    if _utf8(payload) is None:
        assert fast is None
    elif isinstance(slow, StreamChunk):
        assert fast == slow  # on valid UTF-8 the fast path never gives up on a readable chunk


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1, 2]", b'"text"', b"null", b"3", b"", b"\xff\xfe", b'{"a":"\xff"}'],
)
def test_read_chunk_bytes_declines_what_read_chunk_rejects_or_must_decode(payload: bytes) -> None:
    assert read_chunk_bytes(payload) is None


# --- c. StreamParser --------------------------------------------------------------------


@st.composite
def _streams(draw: st.DrawFn) -> list[bytes]:
    """A realistic stream as its events' bytes: role, content, usage, error, [DONE], comments."""
    values: list[bytes | None] = []  # None: a comment
    if draw(st.booleans()):
        values.append(json.dumps(_chat({"role": "assistant", "content": ""})).encode())
    values += [draw(_openai_json()) for _ in range(draw(st.integers(0, 8)))]
    for _ in range(draw(st.integers(0, 2))):
        values.insert(draw(st.integers(0, len(values))), None)
    if draw(st.integers(0, 9)) == 0:  # a broken event: both paths must raise the same
        values.insert(draw(st.integers(0, len(values))), draw(_DATA_VALUES))
    if draw(st.integers(0, 5)) == 0:
        values.insert(draw(st.integers(0, len(values))), draw(_split_json()))
    if draw(st.booleans()):
        usage = {"prompt_tokens": 3, "completion_tokens": draw(st.integers(0, 99))}
        values.append(json.dumps({"choices": [], "usage": usage}).encode())
    if draw(st.integers(0, 4)) == 0:
        values.append(json.dumps({"error": {"message": draw(_TEXT), "code": 500}}).encode())
    if draw(st.integers(0, 5)):
        values.append(b"[DONE]")
    events = []
    for value in values:
        eol = draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"\r"]))
        prefix = draw(st.sampled_from([b"data: ", b"data: ", b"data: ", b"data:"]))
        line = b": " + draw(_LINE_TEXT).encode() if value is None else prefix + value
        events.append(line + eol + eol)
    return events


@st.composite
def _cut_streams(draw: st.DrawFn) -> list[bytes]:
    """The stream as socket reads: mostly whole events, some grouped, some split anywhere."""
    events = draw(_streams())
    stream = b"".join(events)
    boundaries, offset = [], 0
    for event in events:
        offset += len(event)
        boundaries.append(offset)
    cuts = {b for b in boundaries if draw(st.integers(0, 3))}
    cuts |= set(draw(st.lists(st.integers(0, max(len(stream), 1)), max_size=6)))
    points = sorted(c for c in cuts if 0 < c < len(stream))
    pieces, start = [], 0
    for p in [*points, len(stream)]:
        pieces.append(stream[start:p])
        start = p
    return pieces


_Observed = list[tuple[dict[str, Any], bool] | tuple[str, str]]


def _observe(pieces: list[bytes], feed: Callable[[StreamParser, bytes, float], None]) -> _Observed:
    """The attempt and ``done`` after each piece (and after ``end``), or the error raised."""
    attempt = Attempt()
    parser = StreamParser(attempt, collect_text=True)
    seen: _Observed = []
    for i, piece in enumerate(pieces):
        try:
            feed(parser, piece, 1.0 + i)
        except ValueError as exc:
            seen.append((type(exc).__name__, str(exc)))
            return seen
        seen.append((dataclasses.asdict(attempt), parser.done))
    parser.end()
    seen.append((dataclasses.asdict(attempt), parser.done))
    return seen


def _general_feed() -> Callable[[StreamParser, bytes, float], None]:
    """The reference: only ``SseDecoder.feed`` and ``read_chunk``, then the parser's ``take``."""
    sse = SseDecoder()

    def feed(parser: StreamParser, piece: bytes, t: float) -> None:
        for event in sse.feed(piece):
            parser.take(read_chunk(event.data), t)

    return feed


@settings(max_examples=400, deadline=None)
@given(_cut_streams())
def test_stream_parser_observes_what_the_general_path_observes(pieces: list[bytes]) -> None:
    fast = _observe(pieces, StreamParser.feed)
    assert fast == _observe(pieces, _general_feed())


def test_stream_parser_reads_a_typical_stream() -> None:
    """A plain end-to-end case with known figures, so the comparison above cannot be vacuous."""
    role = json.dumps(_chat({"role": "assistant", "content": ""})).encode()
    usage = json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    pieces = [
        b": ok\n\n",
        b"data: " + role + b"\n\n",
        b"data: " + json.dumps(_chat({"content": "h\u00e9"})).encode() + b"\n\n",
        b"data: " + json.dumps(_chat({"content": "llo \U0001f600"})).encode() + b"\n\n",
        b"data: " + usage.encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    attempt = Attempt()
    parser = StreamParser(attempt, collect_text=True)
    for i, piece in enumerate(pieces):
        parser.feed(piece, 1.0 + i)
    parser.end()
    assert (attempt.t_first_chunk, attempt.content_times) == (2.0, [3.0, 4.0])
    assert (attempt.content_chars, attempt.text_parts) == ([2, 5], ["h\u00e9", "llo \U0001f600"])
    assert (attempt.completion_tokens, attempt.prompt_tokens, attempt.error_kind) == (2, 3, None)
    assert parser.done and parser.idle
    assert all(single_data_line(p) is not None for p in pieces[1:])
