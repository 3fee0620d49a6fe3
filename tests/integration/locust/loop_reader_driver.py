"""Run scripted streams through ``read_stream_in_loop`` under gevent; one JSON line per scenario.

Run by tests/integration/locust/test_loop_reader.py as a subprocess (gevent never enters the
pytest process): ``python loop_reader_driver.py < scenarios.json``. Monkey-patches first, as
Locust does, then serves each scenario from a raw gevent socket on 127.0.0.1 (port 0) in this
same process, so the server's write times and the reader's arrival times share one
``time.perf_counter`` clock.

Input: a JSON list of scenarios, each
``{"name", "reader": "loop" (read_stream_in_loop) | "greenlet" (read_stream), "tls": bool,
"steps": [{"sleep_s", "data", "block_s"?} | {"sleep_s", "close": true}], "deadline_s": float | null,
"kill_after_s": float | null, "grace_s": float}``; ``data`` is latin-1 text (one character
per byte); the first step starts with the response head; ``block_s`` holds the whole
process that long right after the write (no greenlet runs). ``deadline_s`` counts from the
start of the body read.

Output, one line per scenario: ``{"name", "outcome": "ok" or the exception's class name,
"message", "attempt": the Attempt's fields, "write_times": perf_counter just before each
step's write (seconds; close steps excluded), "t_read_start", "t_read_end": perf_counter
around the body read (seconds), "kill_at": perf_counter of the kill or null, "first_len": body
bytes that came with the head, "loop_socket_none": bool, "reusable": bool, "reader_dead":
whether the reading greenlet has ended, "leftover": latin-1
text of the bytes still unread in the client socket after the server finished and grace_s
passed, "server_error": null or the server's exception}``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

_REQUEST_TIMEOUT_S = 5.0  # every wait here is bounded: a broken reader fails, never hangs


def _serve(listener: socket.socket, steps: list[dict[str, Any]], write_times: list[float]) -> None:
    """Accept one connection, read the request head, then play the steps."""
    conn, _ = listener.accept()
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        for step in steps:
            _sleep(step["sleep_s"])
            if step.get("close"):
                break
            write_times.append(time.perf_counter())
            conn.sendall(step["data"].encode("latin-1"))
            if step.get("block_s"):
                _block(step["block_s"])
    finally:
        conn.close()


def _sleep(seconds: float) -> None:
    import gevent

    gevent.sleep(seconds)


def _block(seconds: float) -> None:
    """Hold the whole process, as a garbage collection or a long parse would: the reader
    cannot read until it ends, so only a kernel receive stamp keeps the arrival time."""
    from gevent import monkey

    monkey.get_original("time", "sleep")(seconds)


def _drain(sock: socket.socket) -> bytes:
    """Whatever is still unread in the socket, without waiting."""
    sock.setblocking(False)
    out = b""
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return out
        if not data:
            return out
        out += data


def _run(listener: socket.socket, scenario: dict[str, Any]) -> dict[str, Any]:
    import socket

    import gevent

    from locustfiles.connection import HttpConnection, encode_request
    from locustfiles.http_wire import BodyDecoder
    from locustfiles.loop_reader import read_stream_in_loop
    from locustfiles.response_reader import Attempt, StreamReader, read_stream

    write_times: list[float] = []
    server = gevent.spawn(_serve, listener, scenario["steps"], write_times)
    sock = socket.create_connection(listener.getsockname(), timeout=_REQUEST_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = HttpConnection(sock, tls=scenario["tls"])
    limit = time.perf_counter() + _REQUEST_TIMEOUT_S
    conn.send(encode_request("POST", "/v1/chat/completions", "x", {}, b""), deadline_perf=limit)
    head, first = conn.read_head(deadline_perf=limit)
    decoder = BodyDecoder(head)
    reader: StreamReader = read_stream_in_loop if scenario["reader"] == "loop" else read_stream
    attempt = Attempt()
    result: dict[str, Any] = {"name": scenario["name"], "outcome": None, "message": ""}
    result["loop_socket_none"] = conn.loop_socket() is None
    result["first_len"] = len(first)
    times = {"start": 0.0, "end": 0.0}

    def read() -> None:
        times["start"] = time.perf_counter()
        deadline_s = scenario["deadline_s"]
        deadline = math.inf if deadline_s is None else times["start"] + deadline_s
        try:
            reader(conn, decoder, first, deadline=deadline, attempt=attempt, collect_text=True)
            result["outcome"] = "ok"
        except gevent.GreenletExit as exc:  # a kill: recorded, and it goes on up
            result["outcome"], result["message"] = type(exc).__name__, str(exc)
            raise
        except Exception as exc:  # recorded here, so the hub prints nothing for it
            result["outcome"], result["message"] = type(exc).__name__, str(exc)
        finally:
            times["end"] = time.perf_counter()

    reading = gevent.spawn(read)
    kill_at = None
    if scenario["kill_after_s"] is not None:
        gevent.sleep(scenario["kill_after_s"])
        kill_at = time.perf_counter()
        gevent.kill(reading, gevent.GreenletExit)  # as gevent.pool.Group.killone stops a user
    reading.join(timeout=_REQUEST_TIMEOUT_S)
    server.join(timeout=_REQUEST_TIMEOUT_S)
    gevent.sleep(scenario["grace_s"])
    result.update(
        attempt=dataclasses.asdict(attempt),
        write_times=write_times,
        t_read_start=times["start"],
        t_read_end=times["end"],
        kill_at=kill_at,
        reusable=conn.reusable,
        reader_dead=reading.dead,
        leftover=_drain(sock).decode("latin-1"),
        server_error=None if server.successful() else repr(server.exception),
    )
    conn.close()
    return result


def main() -> int:
    from gevent import monkey

    monkey.patch_all()  # before socket/ssl are imported, as Locust does
    import socket

    from locustfiles.connection import timestamp_keeper

    scenarios = json.load(sys.stdin)
    # As a ConnectionPool does under Locust: kernel receive stamping on before any connection.
    keeper = timestamp_keeper()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        for scenario in scenarios:
            print(json.dumps(_run(listener, scenario)), flush=True)
    finally:
        listener.close()
        if keeper is not None:
            keeper.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
