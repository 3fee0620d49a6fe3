"""The event-loop stream reader measures what the greenlet reader measures, and cleans up.

Scripted responses (head and body bytes written in chosen pieces after chosen sleeps) run
through ``loop_reader.read_stream_in_loop`` under gevent in a subprocess
(``loop_reader_driver.py``; gevent never enters this process). The expected observations
come from the general decoders run here on the same bytes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from locustfiles.http_wire import BodyDecoder, ResponseHead
from locustfiles.streaming import SseDecoder, read_chunk

_DRIVER = Path(__file__).with_name("loop_reader_driver.py")
_REPO = Path(__file__).resolve().parents[3]
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_GAP_S = 0.015  # between writes: long enough that each write is its own read
_LATE_S = 0.05  # a content timestamp within this of the write that completed its event
# Kernel receive stamps are converted from the real-time clock to perf_counter; the two reads
# of the clocks are a few microseconds apart, so a stamp may precede the write by that much.
_CLOCK_SLACK_S = 0.001

Scenario = dict[str, Any]
Result = dict[str, Any]


def _event(value: object) -> bytes:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b"data: " + data + b"\n\n"


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _content(text: str) -> bytes:
    delta = {"content": text}
    return _event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]})


_ROLE = _event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
_USAGE = _event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 9}})
_DONE = _event(b"[DONE]")
_TEXTS = ["Hel", "lo", " w\u00f6rld", " \U0001f600", '\n"x"\\', " and", " more", " end", "."]
_C = [_content(t) for t in _TEXTS]


def _odd_splits() -> list[bytes]:
    """The body in awkward pieces: grouped chunks, split chunks, two events in one chunk."""
    c2, c3, c4 = _chunk(_C[1]), _chunk(_C[2]), _chunk(_C[3])
    return [
        _chunk(_ROLE) + _chunk(_C[0]),  # several events in one write, role first
        c2[:5],  # a partial chunk
        c2[5:],
        c3[:1],  # inside the size line
        c3[1:] + c4[:-2],  # up to the CRLF that ends the chunk
        c4[-2:] + _chunk(_C[4] + _C[5]),  # two events in one HTTP chunk
        _chunk(_C[6]),  # one chunk = one event, as servers send
        _chunk(_C[7]),
        _chunk(_C[8]) + _chunk(_USAGE),
        _chunk(_DONE),
        _LAST_CHUNK,
    ]


def _lookalikes() -> list[bytes]:
    """Reads that look like one whole chunk holding one event, but are not.

    The second read is the tail of a chunk whose SSE text holds a line ``<hex>`` (ignored by
    SSE) before an event; the fifth is a whole chunk while the SSE decoder holds an
    unfinished comment line, so its ``data:`` line is part of that comment.
    """
    inner = b"%x\r\n" % len(_C[5]) + _C[5]
    whole = _chunk(_C[4] + inner)
    split = len(whole) - len(inner) - 2
    assert whole[split:] == _chunk(_C[5])
    return [
        _chunk(_ROLE),
        whole[:split],
        whole[split:],
        _chunk(b": unfinished comment "),
        _chunk(_C[6]),
        _chunk(_C[7]),
        _chunk(_DONE),
        _LAST_CHUNK,
    ]


def _random_splits(seed: int) -> list[bytes]:
    """A longer stream cut mostly at chunk boundaries, sometimes anywhere (seeded)."""
    rng = random.Random(seed)
    alphabet = 'ab \u00e9\u4e2d\U0001f600"\\\n\t'
    events = [_ROLE] + [
        _content("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))) for _ in range(30)
    ]
    events += [_USAGE, _DONE]
    chunks, i = [], 0
    while i < len(events):
        take = 2 if rng.random() < 0.15 else 1
        chunks.append(_chunk(b"".join(events[i : i + take])))
        i += take
    body = b"".join(chunks) + _LAST_CHUNK
    cuts, offset = set(), 0
    for chunk in chunks:
        offset += len(chunk)
        if rng.random() < 0.7:
            cuts.add(offset)
    cuts |= {rng.randrange(1, len(body)) for _ in range(8)}
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(body[start:cut])
        start = cut
    pieces.append(body[start:])
    return [p for p in pieces if p]


def _scenario(
    name: str,
    pieces: Sequence[bytes | None],
    *,
    reader: str = "loop",
    tls: bool = False,
    head_alone: bool = True,
    gap_s: float = _GAP_S,
    sleeps_s: Sequence[float] | None = None,
    deadline_s: float | None = None,
    kill_after_s: float | None = None,
    grace_s: float = 0.0,
    block_s: float = 0.0,
) -> Scenario:
    """``pieces`` are body bytes (None: close the connection); the head goes first.

    ``block_s``: after each write, the whole process is held that long (no greenlet runs).
    """
    writes = [_HEAD, *pieces] if head_alone else [_HEAD + (pieces[0] or b""), *pieces[1:]]
    steps: list[dict[str, Any]] = []
    for i, data in enumerate(writes):
        sleep_s = 0.0 if i == 0 else (sleeps_s[i - 1] if sleeps_s else gap_s)
        if data is None:
            steps.append({"sleep_s": sleep_s, "close": True})
        else:
            steps.append({"sleep_s": sleep_s, "data": data.decode("latin-1"), "block_s": block_s})
    return {
        "name": name,
        "reader": reader,
        "tls": tls,
        "steps": steps,
        "deadline_s": deadline_s,
        "kill_after_s": kill_after_s,
        "grace_s": grace_s,
    }


def _run_driver(scenarios: list[Scenario]) -> tuple[dict[str, Result], str]:
    proc = subprocess.run(
        [sys.executable, str(_DRIVER)],
        input=json.dumps(scenarios),
        capture_output=True,
        text=True,
        cwd=_REPO,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines() if line]
    assert [r["name"] for r in results] == [s["name"] for s in scenarios], proc.stderr
    return {r["name"]: r for r in results}, proc.stderr


_ODD = _odd_splits()
_RANDOM = _random_splits(seed=20240611)
_LOOKALIKE = _lookalikes()
_STALL = [_chunk(_C[0]), _chunk(_C[1]) + _chunk(_DONE) + _LAST_CHUNK]
_BUSY = [_chunk(_C[0]), _chunk(_C[1]), _chunk(_C[2]), _chunk(_DONE) + _LAST_CHUNK]
_BLOCK_S = 0.1


@cache
def _main_run() -> tuple[dict[str, Result], str]:
    closed = [_chunk(_ROLE), _chunk(_C[0])[:7], None]
    bad = [_chunk(_ROLE), _chunk(_C[0]), b"zz\r\n" + _C[1] + b"\r\n"]
    return _run_driver(
        [
            _scenario("odd_loop", _ODD),
            _scenario("odd_greenlet", _ODD, reader="greenlet"),
            _scenario("random_loop", _RANDOM, head_alone=False, gap_s=0.005),
            _scenario("random_greenlet", _RANDOM, reader="greenlet", head_alone=False, gap_s=0.005),
            _scenario("lookalike_loop", _LOOKALIKE),
            _scenario("lookalike_greenlet", _LOOKALIKE, reader="greenlet"),
            _scenario("closed_loop", closed),
            _scenario("closed_greenlet", closed, reader="greenlet"),
            _scenario("bad_framing_loop", bad),
            _scenario("bad_framing_greenlet", bad, reader="greenlet"),
            # The head and the whole body in one write; then the server keeps the connection
            # 0.3 s before closing: a reader that waited on the socket would see that close.
            _scenario(
                "complete_in_first",
                [b"".join(_ODD), b""],
                head_alone=False,
                sleeps_s=[0.3],
                deadline_s=2.0,
            ),
            _scenario("tls", _ODD, tls=True),
            _scenario("busy_loop", _BUSY, block_s=_BLOCK_S),
            _scenario("busy_greenlet", _BUSY, reader="greenlet", block_s=_BLOCK_S),
            # The first token in the same read as the head: stamped by the head's read.
            _scenario("busy_head", _BUSY, head_alone=False, block_s=_BLOCK_S),
        ]
    )


def _expected(pieces: Sequence[bytes]) -> tuple[list[int], list[int], list[str], int | None]:
    """Per content event, the index of the piece that completed it; chars, texts, tokens."""
    body = BodyDecoder(ResponseHead(200, "OK", {"transfer-encoding": "chunked"}))
    sse = SseDecoder()
    completed_by: list[int] = []
    chars: list[int] = []
    texts: list[str] = []
    tokens: int | None = None
    for i, piece in enumerate(pieces):
        for event in sse.feed(body.feed(piece)):
            chunk = read_chunk(event.data)
            if chunk.content_chars:
                completed_by.append(i)
                chars.append(chunk.content_chars)
                texts.append(chunk.text)
            if chunk.completion_tokens is not None:
                tokens = chunk.completion_tokens
    assert body.complete
    return completed_by, chars, texts, tokens


def _assert_measured(result: Result, pieces: Sequence[bytes], *, head_alone: bool) -> None:
    """Outcome ok; the observations the general decoders give; timestamps at their writes."""
    completed_by, chars, texts, tokens = _expected(pieces)
    attempt = result["attempt"]
    assert result["outcome"] == "ok", result["message"]
    assert (attempt["content_chars"], attempt["text_parts"]) == (chars, texts)
    assert (attempt["completion_tokens"], attempt["error_kind"]) == (tokens, None)
    writes = result["write_times"][1:] if head_alone else result["write_times"]
    assert len(attempt["content_times"]) == len(completed_by)
    for t, i in zip(attempt["content_times"], completed_by, strict=True):
        assert writes[i] - _CLOCK_SLACK_S <= t <= writes[i] + _LATE_S, (t, i, writes)
    assert result["reusable"]
    assert result["leftover"] == ""


@pytest.mark.parametrize(
    ("name", "pieces", "head_alone"),
    [("odd", _ODD, True), ("random", _RANDOM, False), ("lookalike", _LOOKALIKE, True)],
)
def test_loop_reader_measures_what_the_greenlet_reader_measures(
    name: str, pieces: list[bytes], head_alone: bool
) -> None:
    results, stderr = _main_run()
    loop, greenlet = results[f"{name}_loop"], results[f"{name}_greenlet"]
    assert not loop["loop_socket_none"]
    _assert_measured(loop, pieces, head_alone=head_alone)
    _assert_measured(greenlet, pieces, head_alone=head_alone)
    if name == "lookalike":  # the event inside the comment line is no event
        assert loop["attempt"]["text_parts"] == [_TEXTS[4], _TEXTS[5], _TEXTS[7]]
    for key in ("content_chars", "text_parts", "completion_tokens", "prompt_tokens", "error_kind"):
        assert loop["attempt"][key] == greenlet["attempt"][key], key
    assert "Traceback" not in stderr


def test_connection_closed_mid_body_is_an_error_and_not_reusable() -> None:
    results, _ = _main_run()
    for reader in ("loop", "greenlet"):
        result = results[f"closed_{reader}"]
        assert result["outcome"] == "ConnectionClosedError", (reader, result["message"])
        assert not result["reusable"], reader


def test_bad_chunk_framing_mid_stream_is_a_protocol_error() -> None:
    results, _ = _main_run()
    for reader in ("loop", "greenlet"):
        result = results[f"bad_framing_{reader}"]
        assert (result["outcome"], result["message"]) == ("ProtocolError", "bad chunk size b'zz'")
        assert result["attempt"]["content_chars"] == [len(_TEXTS[0])], reader


def test_body_complete_with_the_head_returns_without_waiting() -> None:
    results, _ = _main_run()
    result = results["complete_in_first"]
    assert result["first_len"] == len(b"".join(_ODD))
    assert result["outcome"] == "ok", result["message"]
    # Waiting on the socket would have lasted until the server's close 0.3 s later.
    assert result["t_read_end"] - result["t_read_start"] < 0.2
    _, chars, texts, tokens = _expected(_ODD)
    attempt = result["attempt"]
    assert (attempt["content_chars"], attempt["text_parts"]) == (chars, texts)
    assert attempt["completion_tokens"] == tokens
    assert result["reusable"]


def test_tls_connections_take_the_greenlet_reader() -> None:
    # Dispatch only: a plain socket flagged as TLS. TLS reading itself is the ssl module's
    # (the greenlet reader's reads go through it), not exercised here.
    results, _ = _main_run()
    result = results["tls"]
    assert result["loop_socket_none"]
    _assert_measured(result, _ODD, head_alone=True)
    for key in ("content_chars", "text_parts", "completion_tokens"):
        assert result["attempt"][key] == results["odd_loop"]["attempt"][key], key


def test_deadline_raises_timeout_and_leaves_no_reader_behind() -> None:
    # The server sends one event, stalls 0.5 s past the 0.3 s deadline, then sends the rest;
    # nothing may read those late bytes: they stay in the socket.
    scenario = _scenario("deadline", _STALL, sleeps_s=[0.02, 0.5], deadline_s=0.3, grace_s=0.2)
    results, stderr = _run_driver([scenario])
    result = results["deadline"]
    assert result["outcome"] == "TimeoutError", result["message"]
    assert 0.25 <= result["t_read_end"] - result["t_read_start"] <= 2.0
    assert result["attempt"]["content_chars"] == [len(_TEXTS[0])]
    assert result["leftover"] == _STALL[1].decode("latin-1")
    assert result["server_error"] is None
    assert "Traceback" not in stderr
    assert stderr == ""


def test_killed_reader_stops_reading_and_the_kill_propagates() -> None:
    scenario = _scenario("kill", _STALL, sleeps_s=[0.02, 0.4], kill_after_s=0.15, grace_s=0.2)
    results, stderr = _run_driver([scenario])
    result = results["kill"]
    assert result["outcome"] == "GreenletExit"
    assert result["reader_dead"]
    assert result["kill_at"] < result["write_times"][-1]
    assert result["attempt"]["content_chars"] == [len(_TEXTS[0])]
    assert result["leftover"] == _STALL[1].decode("latin-1")
    assert result["server_error"] is None
    assert "Traceback" not in stderr
    assert stderr == ""


@pytest.mark.parametrize("name", ["busy_loop", "busy_greenlet", "busy_head"])
def test_a_busy_process_still_stamps_tokens_at_their_arrival(name: str) -> None:
    # After every write the process is held 0.1 s, so every read happens about 0.1 s late.
    # On Linux the kernel's receive stamp keeps each token at its write; elsewhere the
    # stamp is the read's return, 0.1 s late, and the inter-token gaps still hold.
    results, stderr = _main_run()
    result = results[name]
    assert result["outcome"] == "ok", result["message"]
    head_alone = name != "busy_head"
    writes = result["write_times"][1:] if head_alone else result["write_times"]
    times = result["attempt"]["content_times"]
    assert len(times) == 3
    lateness_s = [t - w for t, w in zip(times, writes, strict=False)]
    if sys.platform.startswith("linux"):
        assert all(-_CLOCK_SLACK_S <= late < 0.01 for late in lateness_s), lateness_s
    else:
        assert all(late >= _BLOCK_S * 0.9 for late in lateness_s), lateness_s
    assert "Traceback" not in stderr
