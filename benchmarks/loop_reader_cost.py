"""CPU per streamed event of the Locust client's event-loop reader, without Locust.

A writer process (pinned to core 0) holds N loopback connections and writes one
chat-completions SSE event, as one HTTP chunk, to each of them every ``--itl-ms``, spread
evenly. A reader process (pinned to core 1, gevent, monkey-patched as under Locust) reads
every connection with ``locustfiles.loop_reader.read_stream_in_loop`` (mode ``full``), or
with a callback that only reads and stamps (mode ``read-only``, the floor: event loop,
``recvmsg`` and the clock). After a 5 s warm-up it reports, over 10 s, events/s and its
CPU per event split into user and kernel time (``getrusage``).

Usage::

    python benchmarks/loop_reader_cost.py [--streams 2000] [--itl-ms 35] [--modes full,read-only]

Output: one line per mode, ``mode: events/s, CPU share of one core, us/event (user, sys)``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_PAYLOAD = (
    b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":" tok"},"finish_reason":null}]}\n\n'
)
_EVENT = b"%x\r\n%s\r\n" % (len(_PAYLOAD), _PAYLOAD)
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_RUN_S = 20.0


def _writer(listener: socket.socket, n: int, itl_s: float) -> None:
    conns = []
    for _ in range(n):
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(_HEAD + _EVENT)
        conns.append(conn)
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < _RUN_S:
        for i, conn in enumerate(conns):
            try:
                conn.send(_EVENT)
            except OSError:
                return  # the reader is done
            sent += 1
            if i % 50 == 49:  # pace: event k is due at start + k / n * ITL
                delay = start + sent / n * itl_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)


def _reader(port: int, n: int, mode: str) -> None:
    from gevent import monkey

    monkey.patch_all()
    import resource

    import gevent

    from locustfiles import loop_reader
    from locustfiles.connection import HttpConnection
    from locustfiles.http_wire import BodyDecoder
    from locustfiles.response_reader import Attempt

    if mode == "read-only":

        def on_readable(self: object) -> None:
            stream: object = self
            try:
                stream._sock.recvmsg(65536, 64)  # type: ignore[attr-defined]
            except BlockingIOError:
                return
            stream._parser._attempt.content_times.append(time.perf_counter())  # type: ignore[attr-defined]

        loop_reader._LoopStream.on_readable = on_readable  # type: ignore[method-assign]

    attempts: list[Attempt] = []

    def one() -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = HttpConnection(sock)
        head, first = conn.read_head(deadline_perf=float("inf"))
        attempt = Attempt()
        attempts.append(attempt)
        loop_reader.read_stream_in_loop(
            conn, BodyDecoder(head), first, deadline=float("inf"), attempt=attempt,
            collect_text=False,
        )  # fmt: skip

    for _ in range(n):
        gevent.spawn(one)
    gevent.sleep(5)
    before, events_before, t0 = resource.getrusage(resource.RUSAGE_SELF), 0, time.monotonic()
    events_before = sum(len(a.content_times) for a in attempts)
    gevent.sleep(10)
    after, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    events = sum(len(a.content_times) for a in attempts) - events_before
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    print(
        f"{mode}: {events / (t1 - t0):,.0f} events/s, CPU {(user + system) / (t1 - t0):.0%}, "
        f"{(user + system) / events * 1e6:.2f} us/event (user {user / events * 1e6:.2f}, "
        f"sys {system / events * 1e6:.2f})",
        flush=True,
    )
    os._exit(0)  # the streams never end: do not wait for their greenlets


def _pinned(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if shutil.which("taskset") else cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--itl-ms", type=float, default=35.0)
    parser.add_argument("--modes", default="full,read-only")
    parser.add_argument("--role", choices=("main", "reader"), default="main", help="internal")
    parser.add_argument("--port", type=int, default=0, help="internal")
    parser.add_argument("--mode", default="full", help="internal")
    args = parser.parse_args()
    if args.role == "reader":
        _reader(args.port, args.streams, args.mode)
        return
    for mode in (m for m in args.modes.split(",") if m):
        if mode not in ("full", "read-only"):
            parser.error(f"unknown mode {mode!r}; known: full, read-only")
        listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
        port = listener.getsockname()[1]
        cmd = [sys.executable, __file__, "--role", "reader", "--port", str(port),
               "--streams", str(args.streams), "--mode", mode]  # fmt: skip
        reader = subprocess.Popen(_pinned(1, cmd), cwd=REPO)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {0})  # this process writes: core 0
        try:
            _writer(listener, args.streams, args.itl_ms / 1000)
        finally:
            listener.close()
            reader.wait(timeout=60)


if __name__ == "__main__":
    main()
