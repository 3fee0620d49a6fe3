"""Reading SSE streams in the gevent event loop's callbacks: no greenlet switch per token.

Why: the greenlet reader (``response_reader.read_stream``) costs, per streamed token, a
non-blocking ``recv`` that fails, a switch to the hub, the hub's wake-up and a switch back
before the real ``recv``; in a profile at 2,000 streams that was most of the process's CPU
(docs/PERFORMANCE.md). Here the hub's own epoll calls ``_LoopStream.on_readable`` when a
stream's socket is readable; it reads whatever the kernel has and parses it in place. The
user's greenlet sleeps until its stream ends: one wake-up per request instead of one per
token.

Arrival times: on Linux the socket has ``SO_TIMESTAMPNS`` on, and each read carries the
time the kernel received the last segment it returns. That is the bytes' true arrival at
this host, whatever the process was doing then: when many streams' tokens land at once, the
ones read last are not stamped late by the time spent parsing the others, so a busy load
generator keeps measuring right until it cannot keep up at all (which the CPU and schedule
lag health checks report). The kernel clock is ``CLOCK_REALTIME``; the age of the segment
(``time.time_ns()`` minus its stamp, nanoseconds, exact integers) is subtracted from
``time.perf_counter()`` taken right after the read. Without a stamp (other platforms) the
time is that ``perf_counter()``, as in the greenlet reader.

Per read, what LLM servers send almost always is one HTTP chunk holding one ``data:`` event;
``chunked_data_line`` recognises exactly that and hands the JSON to the parser without the
chunk and SSE decoders. Anything else takes the general decoders, which give the same
result (property-tested).

Plain-TCP connections only: a TLS socket's readiness does not mean a whole record is
decrypted, so ``https`` streams keep the greenlet reader.
"""

from __future__ import annotations

import math
import socket
import time
from typing import Any, Final

import gevent
from gevent.hub import Waiter

from locustfiles.connection import (
    ANCILLARY_BYTES,
    RECV_BYTES,
    ConnectionClosedError,
    HttpConnection,
    arrival_perf,
)
from locustfiles.http_wire import BodyDecoder
from locustfiles.response_reader import Attempt, StreamParser, read_stream
from locustfiles.streaming import chunked_data_line, read_chunk_bytes

_READ: Final = 1  # libev's EV_READ


class _LoopStream:
    """One stream's state while the event loop reads it."""

    __slots__ = ("_conn", "_decoder", "_fast", "_parser", "_sock", "error", "waiter", "watcher")

    def __init__(
        self, conn: HttpConnection, sock: socket.socket, decoder: BodyDecoder, parser: StreamParser
    ) -> None:
        self._conn = conn
        # gevent's socket wraps the C socket object in ``_sock`` (non-blocking under gevent);
        # reading that directly skips gevent's Python-level retry loop once per token. Should
        # gevent rename it, the wrapper with its timeout 0 (``loop_socket``) behaves the
        # same, a little slower.
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._decoder = decoder
        self._parser = parser
        self.watcher: Any = gevent.get_hub().loop.io(sock.fileno(), _READ)
        self.waiter = Waiter()
        self._fast = decoder.between_chunks and parser.idle
        self.error: BaseException | None = None

    def on_readable(self) -> None:
        """Called by the hub: must not block, must not raise (the hub would print it)."""
        try:
            data, ancillary, _, _ = self._sock.recvmsg(RECV_BYTES, ANCILLARY_BYTES)
        except BlockingIOError:
            return  # a spurious wake-up: nothing to read yet
        except OSError as exc:
            self._finish(exc)
            return
        t = time.perf_counter()
        if ancillary:
            t = arrival_perf(ancillary, t, time.time_ns())
        try:
            if self._fast and data:
                payload = chunked_data_line(data)
                if payload is not None:
                    chunk = read_chunk_bytes(payload)
                    if chunk is not None:
                        self._parser.take(chunk, t)
                        return
            self._general(data, t)
        except Exception as exc:  # re-raised in the waiting greenlet, never in the hub
            self._finish(exc)

    def _general(self, data: bytes, t: float) -> None:
        decoder = self._decoder
        self._conn.last_read_perf = t  # the caller's end-of-response time, if this is the end
        if not data:
            self._conn.reusable = False
            if decoder.until_close:
                self._finish(None)
            else:
                self._finish(ConnectionClosedError("connection closed in the middle of the body"))
            return
        piece = decoder.feed(data)
        if piece:
            self._parser.feed(piece, t)
        if decoder.complete:
            self._finish(None)
        else:
            self._fast = decoder.between_chunks and self._parser.idle

    def _finish(self, error: BaseException | None) -> None:
        self.watcher.stop()
        self.error = error
        self.waiter.switch(None)


def read_stream_in_loop(
    conn: HttpConnection,
    decoder: BodyDecoder,
    first: bytes,
    *,
    deadline: float,
    attempt: Attempt,
    collect_text: bool,
) -> None:
    """Same contract as ``read_stream``; the reads happen in the hub's callbacks.

    Raises what ``read_stream`` raises (TimeoutError at ``deadline``, ConnectionClosedError,
    ProtocolError, ValueError, OSError); a kill of the waiting greenlet stops the reads.
    """
    sock = conn.loop_socket()
    if sock is None:
        read_stream(
            conn, decoder, first, deadline=deadline, attempt=attempt, collect_text=collect_text
        )
        return
    parser = StreamParser(attempt, collect_text=collect_text)
    if first:
        piece = decoder.feed(first)
        if piece:
            parser.feed(piece, conn.last_read_perf)
    if decoder.complete:
        parser.end()
        return
    stream = _LoopStream(conn, sock, decoder, parser)
    watcher = stream.watcher
    timer = None
    if deadline != math.inf:
        timeout_s = max(deadline - time.perf_counter(), 0.0)
        timer = gevent.Timeout.start_new(timeout_s, TimeoutError("request deadline"))
    try:
        watcher.start(stream.on_readable)
        stream.waiter.get()
    finally:
        watcher.stop()
        watcher.close()
        if timer is not None:
            timer.close()
    if stream.error is not None:
        raise stream.error
    parser.end()
