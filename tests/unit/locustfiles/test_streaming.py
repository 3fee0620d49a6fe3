"""The SSE decoder gives the same events for any chunking; stream chunks are read right."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.streaming import SseDecoder, SseEvent, StreamChunk, read_chunk

_TEXT = st.text(
    alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
    max_size=30,
)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _streams(draw: st.DrawFn) -> bytes:
    """Random event streams: data/event/id fields, comments, all three line endings, a BOM."""
    parts: list[str] = ["\ufeff"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["data", "data", "event", "id", "comment", "other"]))
            value = draw(_TEXT)
            space = draw(st.sampled_from(["", " "]))
            if kind == "comment":
                line = f":{value}"
            elif kind == "other":
                line = f"retry:{space}{value}"
            else:
                line = f"{kind}:{space}{value}"
            parts.append(line + draw(_EOL))
        parts.append(draw(_EOL))
    return "".join(parts).encode("utf-8")


def _feed_all(chunks: list[bytes]) -> list[SseEvent]:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for p in points:
        pieces.append(data[start:p])
        start = p
    pieces.append(data[start:])
    return pieces


@settings(max_examples=300, deadline=None)
@given(_streams(), st.lists(st.integers(0, 400), max_size=12))
def test_any_chunking_gives_the_same_events(stream: bytes, cuts: list[int]) -> None:
    assert _feed_all(_split(stream, cuts)) == _feed_all([stream])


@settings(max_examples=200, deadline=None)
@given(_streams())
def test_byte_by_byte_equals_whole(stream: bytes) -> None:
    assert _feed_all([stream[i : i + 1] for i in range(len(stream))]) == _feed_all([stream])


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=8), st.lists(st.integers(0, 300), max_size=6))
def test_openai_style_data_events_round_trip(payloads: list[str], cuts: list[int]) -> None:
    """What LLM servers send (whole ``data:`` events, the decoder's fast path) in any chunking."""
    stream = "".join(f"data: {p}\n\n" for p in payloads).encode()
    expected = [SseEvent(p) for p in payloads]
    assert _feed_all([stream]) == expected
    assert _feed_all(_split(stream, cuts)) == expected


def test_spec_examples() -> None:
    stream = b"data: a\ndata: b\n\n: comment\nevent: ping\nid: 7\ndata:c\n\ndata\n\n"
    assert _feed_all([stream]) == [
        SseEvent("a\nb"),
        SseEvent("c", "ping", "7"),
        SseEvent("", "message", "7"),
    ]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert _feed_all([b"data: x\r", b"\n\r\n"]) == [SseEvent("x")]


def test_event_without_blank_line_is_not_dispatched() -> None:
    assert _feed_all([b"data: x\n"]) == []


def _chunk(delta: dict[str, object], usage: object = None) -> str:
    return json.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            "usage": usage,
        }
    )


def test_role_chunk_carries_no_content() -> None:
    assert read_chunk(_chunk({"role": "assistant", "content": ""})) == StreamChunk(0, "")


def test_content_chunk_counts_characters() -> None:
    assert read_chunk(_chunk({"content": " hello"})) == StreamChunk(6, " hello")


def test_reasoning_and_tool_call_arguments_count_as_content() -> None:
    assert read_chunk(_chunk({"reasoning_content": "hmm"})).content_chars == 3
    tool: dict[str, object] = {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}
    assert read_chunk(_chunk(tool)).text == '{"a":1}'


def test_usage_chunk() -> None:
    data = json.dumps(
        {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}}
    )
    chunk = read_chunk(data)
    assert (chunk.content_chars, chunk.completion_tokens, chunk.prompt_tokens) == (0, 5, 8)


def test_text_completion_chunk() -> None:
    data = json.dumps({"object": "text_completion", "choices": [{"index": 0, "text": " hi"}]})
    assert read_chunk(data) == StreamChunk(3, " hi")


def test_error_event_and_done() -> None:
    error = read_chunk(json.dumps({"error": {"message": "boom", "code": "overloaded"}}))
    assert error.error == "overloaded: boom"
    assert read_chunk("[DONE]").done


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
def test_non_object_data_is_a_protocol_error(data: str) -> None:
    with pytest.raises(ValueError, match="stream event"):
        read_chunk(data)


def test_event_name_pending_across_feeds_names_the_next_event_only() -> None:
    # The single-line fast path once ignored an ``event:`` line fed earlier: the name went
    # to the event after the one it belonged to.
    decoder = SseDecoder()
    events: list[SseEvent] = []
    for chunk in (b"event: foo\n", b"data: x\n\n", b"data: y\n", b"\n"):
        events.extend(decoder.feed(chunk))
    assert events == [SseEvent("x", "foo"), SseEvent("y", "message")]
