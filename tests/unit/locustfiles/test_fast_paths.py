"""The stream fast paths give what the general decoders give, and do not silently stop working.

Three shortcuts skip the general HTTP-chunk and SSE decoders for the common "one read = one
chunk = one ``data:`` event" case: ``streaming.chunked_data_line`` (used by
``loop_reader``) and ``streaming.read_chunk_bytes`` here, ``StreamParser.feed``'s own in
test_stream_parser_fast_path.py. For every input they accept, the general path must give
the same result and leave the decoders where they were; for the inputs LLM servers really
send, they must accept.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.http_wire import BodyDecoder, ProtocolError, ResponseHead
from locustfiles.streaming import (
    SseDecoder,
    StreamChunk,
    chunked_data_line,
    read_chunk,
    read_chunk_bytes,
)
from tests.unit.locustfiles.sse_strategies import (
    DATA_VALUES,
    openai_json,
)

_CHUNKED = ResponseHead(status=200, reason="OK", headers={"transfer-encoding": "chunked"})


@st.composite
def _sse_payloads(draw: st.DrawFn) -> bytes:
    """A chunk's payload: mostly ``data: X\\n\\n``, else one of the shapes that is not that."""
    x: bytes = draw(DATA_VALUES)
    y: bytes = draw(DATA_VALUES)
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
@given(openai_json(), st.sampled_from(_PRIMES))
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
@given(DATA_VALUES)
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
