"""A reference LLM streaming server with exact timing, for benchmarks/loadgen_fidelity.py.

Every ``POST`` gets a chat-completions SSE stream whose first token is due ``--ttft-ms``
after the request arrived and each further token ``--itl-ms`` later (``--tokens`` tokens).
Events are pre-encoded and all streams share one timer (a heap of due times) in a plain
epoll loop. Prints ``reference server listening on http://127.0.0.1:PORT`` once ready.

The server measures what it actually did, so that a benchmark takes its truth from the
server's actual timing rather than from the nominal values:

- a request's arrival is the kernel's receive stamp of its last segment (``SO_TIMESTAMPNS``,
  Linux), not the moment this loop got round to reading it: a busy server that notices a
  request late still starts the request's clock at its arrival;
- every write is timed on the real clock (``time.monotonic``) right before it is made.

With ``--stats-file`` it rewrites, every 0.5 s, a JSON object of cumulative counters:

- ``first_tokens``, ``ttft_sum_s``: first tokens written and the sum of (write time -
  arrival);
- ``gaps``, ``gap_sum_s``: later tokens written and the sum of (write time - the same
  stream's previous write time);
- ``late_sum_s``, ``late_over_1ms``: over all tokens, the sum of max(write time - due
  time, 0), the server's own lag, and how many writes were more than 1 ms late;
- ``kernel_arrivals``: requests whose arrival came from a kernel stamp (the others use the
  read time);
- ``t_s``: the server's ``time.monotonic()`` at the write of the file.

Usage::

    python benchmarks/reference_stream_server.py [--port 0] [--ttft-ms 200] [--itl-ms 20]
        [--tokens 64] [--stats-file PATH]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import os
import re
import select
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from locustfiles.connection import (
    ANCILLARY_BYTES,
    KERNEL_RX_TIMESTAMPS,
    RECV_BYTES,
    SO_TIMESTAMPNS,
    arrival_perf,
)

_SERVER_EVENT = (
    b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":" tok"},"finish_reason":null}]}\n\n'
)
_SERVER_ROLE = (
    b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
)
_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_EARLY_S = 0.0002  # a token due this soon is written now rather than after another wait


def _http_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


@dataclass
class ServerStats:
    """Cumulative counters of what the server did (see the module docstring)."""

    first_tokens: int = 0
    ttft_sum_s: float = 0.0
    gaps: int = 0
    gap_sum_s: float = 0.0
    late_sum_s: float = 0.0
    late_over_1ms: int = 0
    kernel_arrivals: int = 0


class ReferenceServer:
    """One epoll loop: accepts, parses requests, and writes every token at its due time."""

    def __init__(self, port: int, ttft_s: float, itl_s: float, tokens: int) -> None:
        self._ttft_s, self._itl_s, self._last = ttft_s, itl_s, tokens - 1
        self._listener = socket.create_server(("127.0.0.1", port), backlog=4096)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._epoll = select.epoll()
        self._epoll.register(self._listener.fileno(), select.EPOLLIN)
        self._conns: dict[int, socket.socket] = {}
        self._bufs: dict[int, bytes] = {}
        # (due, seq, fd, token index, previous write or arrival time), monotonic seconds
        self._heap: list[tuple[float, int, int, int, float]] = []
        self._seq = itertools.count()
        self.stats = ServerStats()
        self._event = _http_chunk(_SERVER_EVENT)
        self._first = _http_chunk(_SERVER_ROLE) + self._event
        usage = json.dumps({"choices": [], "usage": {"completion_tokens": tokens}}).encode()
        self._tail = (
            _http_chunk(b"data: " + usage + b"\n\n")
            + _http_chunk(b"data: [DONE]\n\n")
            + b"0\r\n\r\n"
        )
        self._head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )

    def serve(self, stats_file: Path | None) -> None:
        next_stats = 0.0
        while True:
            now = time.monotonic()
            if stats_file is not None and now >= next_stats:
                _write_stats(self.stats, stats_file)
                next_stats = now + 0.5
            timeout_s = 0.5
            if self._heap:
                # epoll waits whole milliseconds: rounding up wakes at or after the due time.
                timeout_s = min(timeout_s, max(self._heap[0][0] - now, 0.0))
            for fd, _ in self._epoll.poll(math.ceil(timeout_s * 1000) / 1000):
                if fd == self._listener.fileno():
                    self._accept()
                else:
                    self._read(fd)
            self._pump()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if KERNEL_RX_TIMESTAMPS:
                conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self._conns[conn.fileno()] = conn
            self._bufs[conn.fileno()] = b""
            self._epoll.register(conn.fileno(), select.EPOLLIN)

    def _read(self, fd: int) -> None:
        conn = self._conns.get(fd)
        if conn is None:
            return
        try:
            data, ancillary, _, _ = conn.recvmsg(RECV_BYTES, ANCILLARY_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        read_at = time.monotonic()
        if not data:
            self._close(fd)
            return
        # The client's own conversion, on this clock: the read time less the stamp's age.
        arrival = arrival_perf(ancillary, read_at, time.time_ns())
        kernel = arrival != read_at
        buf = self._bufs[fd] + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            match = _CONTENT_LENGTH.search(buf, 0, end)
            length = int(match.group(1)) if match else 0
            if len(buf) < end + 4 + length:
                break
            head = buf[:end]
            buf = buf[end + 4 + length :]
            if head.startswith(b"GET /v1/models"):
                body = b'{"object":"list","data":[{"id":"reference"}]}'
                self._send(fd, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
                continue
            self.stats.kernel_arrivals += kernel is not None
            self._send(fd, self._head)
            entry = (arrival + self._ttft_s, next(self._seq), fd, 0, arrival)
            heapq.heappush(self._heap, entry)
        self._bufs[fd] = buf

    def _pump(self) -> None:
        heap, stats, last = self._heap, self.stats, self._last
        while heap and heap[0][0] <= time.monotonic() + _EARLY_S:
            due, _, fd, index, before = heapq.heappop(heap)
            if fd not in self._conns:
                continue
            payload = self._first if index == 0 else self._event
            if index == last:
                payload += self._tail
            now = time.monotonic()
            if not self._send(fd, payload):
                continue
            late = max(now - due, 0.0)  # up to _EARLY_S early counts as on time
            stats.late_sum_s += late
            stats.late_over_1ms += late > 0.001
            if index == 0:
                stats.first_tokens += 1
                stats.ttft_sum_s += now - before
            else:
                stats.gaps += 1
                stats.gap_sum_s += now - before
            if index != last:
                heapq.heappush(heap, (due + self._itl_s, next(self._seq), fd, index + 1, now))

    def _send(self, fd: int, payload: bytes) -> bool:
        """Write all of ``payload`` or drop the connection (a client that stopped reading)."""
        try:
            if self._conns[fd].send(payload) == len(payload):
                return True
        except OSError:
            pass
        self._close(fd)
        return False

    def _close(self, fd: int) -> None:
        conn = self._conns.pop(fd, None)
        self._bufs.pop(fd, None)
        if conn is not None:
            self._epoll.unregister(fd)
            conn.close()


def _write_stats(stats: ServerStats, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**asdict(stats), "t_s": time.monotonic()}))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=200.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per stream")
    parser.add_argument("--stats-file", type=Path, default=None, help="cumulative counters")
    args = parser.parse_args()
    if args.tokens < 1:
        parser.error(f"--tokens must be at least 1, got {args.tokens}")
    server = ReferenceServer(args.port, args.ttft_ms / 1000, args.itl_ms / 1000, args.tokens)
    print(f"reference server listening on http://127.0.0.1:{server.port}", flush=True)
    server.serve(args.stats_file)  # until killed (the benchmark terminates it)


if __name__ == "__main__":
    main()
