"""HTTP/1.1 framing: the body decoder returns the same bytes for any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.http_wire import BodyDecoder, ProtocolError, ResponseHead, parse_head


def _head(**headers: str) -> ResponseHead:
    return ResponseHead(status=200, reason="OK", headers=headers)


def _chunked(pieces: list[bytes], extension: bool) -> bytes:
    ext = b";name=value" if extension else b""
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in pieces if p)
    return body + b"0\r\n\r\n"


def _decode(decoder: BodyDecoder, data: bytes, cuts: list[int]) -> bytes:
    points = [*sorted({min(c, len(data)) for c in cuts}), len(data)]
    out, start = [], 0
    for p in points:
        out.append(decoder.feed(data[start:p]))
        start = p
    return b"".join(out)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=40), max_size=8),
    st.lists(st.integers(0, 500), max_size=15),
    st.booleans(),
)
def test_chunked_body_is_the_same_for_any_chunking(
    pieces: list[bytes], cuts: list[int], extension: bool
) -> None:
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    assert _decode(decoder, _chunked(pieces, extension), cuts) == b"".join(pieces)
    assert decoder.complete


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=10))
def test_content_length_body(body: bytes, cuts: list[int]) -> None:
    decoder = BodyDecoder(_head(**{"content-length": str(len(body))}))
    assert _decode(decoder, body, cuts) == body
    assert decoder.complete


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
def test_one_read_per_chunk_gives_the_payloads(pieces: list[bytes]) -> None:
    """What a streaming server sends: every read is exactly one chunk (the decoder's fast path)."""
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    out = [decoder.feed(b"%x\r\n%s\r\n" % (len(p), p)) for p in pieces]
    assert out == pieces
    assert decoder.feed(b"0\r\n\r\n") == b""
    assert decoder.complete


@pytest.mark.parametrize("size", [b"-1", b"+1", b"0x1", b"1_0", b" "])
def test_chunk_sizes_must_be_plain_hex(size: bytes) -> None:
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    with pytest.raises(ProtocolError, match="bad chunk size"):
        decoder.feed(size + b"\r\nx\r\n")


def test_chunked_with_trailer_completes_after_blank_line() -> None:
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    assert decoder.feed(b"3\r\nabc\r\n0\r\nx-trailer: 1\r\n") == b"abc"
    assert not decoder.complete
    decoder.feed(b"\r\n")
    assert decoder.complete


def test_incomplete_chunk_is_returned_as_it_arrives() -> None:
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    assert decoder.feed(b"a\r\n01234") == b"01234"
    assert decoder.feed(b"56789\r\n") == b"56789"
    assert not decoder.complete


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"zz\r\nab\r\n", "bad chunk size"), (b"2\r\nabXY", "not followed by CRLF")],
)
def test_bad_chunked_framing_is_a_protocol_error(data: bytes, message: str) -> None:
    decoder = BodyDecoder(_head(**{"transfer-encoding": "chunked"}))
    with pytest.raises(ProtocolError, match=message):
        decoder.feed(data)


def test_bytes_beyond_content_length_are_an_error() -> None:
    decoder = BodyDecoder(_head(**{"content-length": "2"}))
    with pytest.raises(ProtocolError, match="beyond Content-Length"):
        decoder.feed(b"abc")


def test_until_close_body_and_bodyless_statuses() -> None:
    assert BodyDecoder(_head()).until_close
    assert BodyDecoder(ResponseHead(status=204, reason="", headers={})).complete


def test_parse_head_lowercases_and_joins_repeated_headers() -> None:
    head = parse_head(b"HTTP/1.1 429 Too Many\r\nRetry-After: 1\r\nX-A: 1\r\nx-a: 2")
    assert head.status == 429
    assert head.headers == {"retry-after": "1", "x-a": "1, 2"}
    assert head.keep_alive
    assert not parse_head(b"HTTP/1.1 200 OK\r\nConnection: close").keep_alive


@pytest.mark.parametrize("raw", [b"SPDY 200 OK", b"HTTP/1.1 abc OK", b"HTTP/1.1 200 OK\r\nnocolon"])
def test_bad_heads_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_head(raw)
