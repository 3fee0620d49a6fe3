"""``StreamParser.feed``'s own fast path (one ``data:`` line per read) observes exactly what
the general path (``SseDecoder`` then ``read_chunk``) observes, piece after piece."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from locustfiles.response_reader import Attempt, StreamParser
from locustfiles.streaming import SseDecoder, read_chunk, single_data_line
from tests.unit.locustfiles.sse_strategies import (
    DATA_VALUES,
    LINE_TEXT,
    TEXT,
    chat,
    openai_json,
    split_json,
)

# --- c. StreamParser --------------------------------------------------------------------


@st.composite
def _streams(draw: st.DrawFn) -> list[bytes]:
    """A realistic stream as its events' bytes: role, content, usage, error, [DONE], comments."""
    values: list[bytes | None] = []  # None: a comment
    if draw(st.booleans()):
        values.append(json.dumps(chat({"role": "assistant", "content": ""})).encode())
    values += [draw(openai_json()) for _ in range(draw(st.integers(0, 8)))]
    for _ in range(draw(st.integers(0, 2))):
        values.insert(draw(st.integers(0, len(values))), None)
    if draw(st.integers(0, 9)) == 0:  # a broken event: both paths must raise the same
        values.insert(draw(st.integers(0, len(values))), draw(DATA_VALUES))
    if draw(st.integers(0, 5)) == 0:
        values.insert(draw(st.integers(0, len(values))), draw(split_json()))
    if draw(st.booleans()):
        usage = {"prompt_tokens": 3, "completion_tokens": draw(st.integers(0, 99))}
        values.append(json.dumps({"choices": [], "usage": usage}).encode())
    if draw(st.integers(0, 4)) == 0:
        values.append(json.dumps({"error": {"message": draw(TEXT), "code": 500}}).encode())
    if draw(st.integers(0, 5)):
        values.append(b"[DONE]")
    events = []
    for value in values:
        eol = draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"\r"]))
        prefix = draw(st.sampled_from([b"data: ", b"data: ", b"data: ", b"data:"]))
        line = b": " + draw(LINE_TEXT).encode() if value is None else prefix + value
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
    role = json.dumps(chat({"role": "assistant", "content": ""})).encode()
    usage = json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    pieces = [
        b": ok\n\n",
        b"data: " + role + b"\n\n",
        b"data: " + json.dumps(chat({"content": "h\u00e9"})).encode() + b"\n\n",
        b"data: " + json.dumps(chat({"content": "llo \U0001f600"})).encode() + b"\n\n",
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
