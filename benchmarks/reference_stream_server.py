"""A reference LLM streaming server with exact timing, for benchmarks/loadgen_fidelity.py.

Every ``POST`` gets a chat-completions SSE stream whose first token is due ``--ttft-ms``
after the request arrived and each further token ``--itl-ms`` later (``--tokens`` tokens).
Events are pre-encoded and all streams share one timer (a heap of due times), so the
server's own timing error stays far below the client's it is used to measure. Prints
``reference server listening on http://127.0.0.1:PORT`` once ready.

Usage::

    python benchmarks/reference_stream_server.py [--port 0] [--ttft-ms 200] [--itl-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import re
from typing import cast

_SERVER_EVENT = (
    b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":" tok"},"finish_reason":null}]}\n\n'
)
_SERVER_ROLE = (
    b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
)


def _http_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class _ReferenceServer(asyncio.Protocol):
    """One connection of the reference server (keep-alive, one request at a time)."""

    def __init__(self, scheduler: _Scheduler) -> None:
        self._scheduler = scheduler
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end].decode("latin-1")
            match = re.search(r"(?i)\r\ncontent-length:\s*(\d+)", head)
            length = int(match.group(1)) if match else 0
            if len(self._buf) < end + 4 + length:
                return
            self._buf = self._buf[end + 4 + length :]
            assert self._transport is not None
            if head.startswith("GET /v1/models"):
                body = b'{"object":"list","data":[{"id":"reference"}]}'
                self._transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            else:
                self._scheduler.start(self._transport)


class _Scheduler:
    """Every token of every stream, due at arrival + TTFT + k * ITL; one timer at a time."""

    def __init__(self, ttft_s: float, itl_s: float, tokens: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._ttft_s, self._itl_s, self._tokens = ttft_s, itl_s, tokens
        self._heap: list[tuple[float, int, asyncio.Transport, int]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0  # uvloop's timer handles have no when()
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

    def start(self, transport: asyncio.Transport) -> None:
        transport.write(self._head)
        self._push(self._loop.time() + self._ttft_s, transport, 0)

    def _push(self, due: float, transport: asyncio.Transport, index: int) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), transport, index))
        if self._timer is None or due < self._timer_due:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(due, self._pump)
            self._timer_due = due

    def _pump(self) -> None:
        self._timer = None
        heap = self._heap
        now = self._loop.time()
        last = self._tokens - 1
        while heap and heap[0][0] <= now + 0.0002:
            due, _, transport, index = heapq.heappop(heap)
            if transport.is_closing():
                continue
            if index == last:
                transport.write((self._first if index == 0 else self._event) + self._tail)
                continue
            transport.write(self._first if index == 0 else self._event)
            heapq.heappush(heap, (due + self._itl_s, next(self._seq), transport, index + 1))
        if heap:
            self._timer_due = heap[0][0]
            self._timer = self._loop.call_at(self._timer_due, self._pump)


async def _serve(port: int, ttft_ms: float, itl_ms: float, tokens: int) -> None:
    scheduler = _Scheduler(ttft_ms / 1000, itl_ms / 1000, tokens)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _ReferenceServer(scheduler), "127.0.0.1", port, backlog=4096
    )
    sock_port = server.sockets[0].getsockname()[1]
    print(f"reference server listening on http://127.0.0.1:{sock_port}", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=200.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per stream")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(args.port, args.ttft_ms, args.itl_ms, args.tokens))


if __name__ == "__main__":
    main()
