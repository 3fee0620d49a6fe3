"""LlmClient against a real (threaded, scripted) HTTP/1.1 server on an ephemeral port.

No Locust and no gevent here: the client is plain sockets, so it runs in this process with
blocking I/O; the server thread writes each event with its own ``sendall`` and sleeps between
them, so the timestamps the client records can be checked against the script.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from locustfiles.api_request import ApiCall
from locustfiles.client_policy import AbandonPolicy, RetryPolicy
from locustfiles.connection import ConnectionPool, Endpoint, api_endpoint
from locustfiles.llm_client import ClientSettings, LlmClient
from locustfiles.records import RequestRecord
from locustfiles.timing import RunClock

Script = Callable[[socket.socket, int], bool]
"""Writes one response (``n`` = how many requests this script has seen); True keeps alive."""


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: object) -> bytes:
    return _chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")


def _content(text: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
_TAIL = _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}})
_DONE = _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


def _stream(sock: socket.socket, n: int, sent: list[float] | None = None) -> bool:
    """Role event after 100 ms, then 5 content events 50 ms and 4 x 40 ms apart.

    ``sent`` gets the ``perf_counter`` at which each event was written (the same clock as
    the client's in this process): the truth the client's timestamps are checked against.
    """
    sent = [] if sent is None else sent
    sock.sendall(_STREAM_HEAD)
    time.sleep(0.10)
    sock.sendall(_event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
    sent.append(time.perf_counter())
    time.sleep(0.05)
    for i in range(5):
        if i:
            time.sleep(0.04)
        sock.sendall(_event(_content(f" w{i}")))
        sent.append(time.perf_counter())
    sock.sendall(_TAIL + _DONE)
    return True


def _json(status: int, body: object, extra: bytes = b"") -> bytes:
    raw = json.dumps(body).encode()
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status,
        len(raw),
        extra,
        raw,
    )


def _rate_limited_once(sock: socket.socket, n: int) -> bool:
    if n == 0:
        error = {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}
        sock.sendall(_json(429, error, b"retry-after-ms: 300\r\n"))
        return True
    return _stream(sock, n)


def _always_429(sock: socket.socket, n: int) -> bool:
    sock.sendall(_json(429, {"error": {"message": "no", "code": "rate_limit_exceeded"}}))
    return True


def _stall(sock: socket.socket, n: int) -> bool:
    sock.sendall(_STREAM_HEAD + _event(_content(" a")))
    time.sleep(2.0)
    return False


def _error_event(sock: socket.socket, n: int) -> bool:
    sock.sendall(_STREAM_HEAD + _event(_content(" a")))
    sock.sendall(_event({"error": {"message": "engine died", "code": "internal"}}) + _DONE)
    return True


def _server_error(sock: socket.socket, n: int) -> bool:
    sock.sendall(_json(500, {"error": {"message": "boom", "code": "internal_error"}}))
    return True


def _close_after(sock: socket.socket, n: int) -> bool:
    _stream(sock, n)
    return False  # closes without "Connection: close": the client's idle socket goes stale


def _completion(sock: socket.socket, n: int) -> bool:
    body = {"choices": [{"index": 0, "text": "a b c"}], "usage": {"completion_tokens": 3}}
    sock.sendall(_json(200, body))
    return True


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests = itertools.count()
        self.connections = 0
        self.auth: list[str] = []


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.connections += 1
        sock: socket.socket = self.request
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            self.server.auth.append(headers.get("authorization", ""))
            length = int(headers.get("content-length", "0"))
            while len(buf) < length:
                buf += sock.recv(65536)
            buf = buf[length:]
            if not self.server.script(sock, next(self.server.requests)):
                return


@contextmanager
def _serving(script: Script) -> Iterator[_Server]:
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


_CLOCK = RunClock(t0_epoch_s=0.0, perf_at_t0=0.0)
"""Run time = perf_counter here, so the server thread's perf_counter readings compare."""


def client_clock_s(perf: float) -> float:
    return _CLOCK.to_run_s(perf)


def _client(
    port: int, records: list[RequestRecord], **settings: object
) -> tuple[LlmClient, ConnectionPool]:
    pool = ConnectionPool(Endpoint.from_url(f"http://127.0.0.1:{port}"), connect_timeout_s=2.0)
    client = LlmClient(
        pool=pool,
        settings=ClientSettings(headers=(("Authorization", "Bearer sk-test"),), **settings),  # type: ignore[arg-type]
        clock=_CLOCK,
        rng=random.Random(0),
        process_id="local",
        stage_at=lambda t_s: "steady",
        ids=itertools.count(),
        sink=lambda record, live: records.append(record),
    )
    return client, pool


_CALL = ApiCall(
    endpoint="chat",
    path="/v1/chat/completions",
    body=b"{}",
    stream=True,
    prompt_tokens=3,
    tier=None,
)


def test_stream_timestamps_match_when_the_server_wrote_each_event() -> None:
    records: list[RequestRecord] = []
    sent: list[float] = []
    with _serving(lambda sock, n: _stream(sock, n, sent)) as server:
        client, pool = _client(server.server_address[1], records)
        outcome = client.call(_CALL, user_class="ChatUser", collect_text=True)
        pool.close()
    record = outcome.record
    assert records == [record]
    assert record.error_kind is None and record.status == 200
    assert record.t_first_chunk_s is not None and record.t_first_token_s is not None
    assert record.t_last_token_s is not None and record.itl_s is not None
    # Each event is handed over when it arrives (a few ms after the server's write at most),
    # not when a read buffer fills: the small events here would all arrive together.
    truth = [client_clock_s(t) for t in sent]
    assert record.t_first_chunk_s == pytest.approx(truth[0], abs=0.005)
    assert record.t_first_token_s == pytest.approx(truth[1], abs=0.005)
    assert record.t_last_token_s == pytest.approx(truth[5], abs=0.005)
    gaps = [b - a for a, b in itertools.pairwise(truth[1:])]
    assert record.itl_s == pytest.approx(gaps, abs=0.005)
    assert min(gaps) >= 0.035  # the script really spaced them
    assert (record.output_tokens, record.n_chunks, record.prompt_tokens) == (5, 5, 3)
    assert record.stage == "steady"
    assert outcome.text == " w0 w1 w2 w3 w4"
    assert server.auth == ["Bearer sk-test"]


_NON_STREAM = ApiCall(
    endpoint="completions",
    path="/v1/completions",
    body=b"{}",
    stream=False,
    prompt_tokens=3,
    tier="free",
)


def test_non_streaming_response_and_keep_alive_reuse() -> None:
    records: list[RequestRecord] = []
    with _serving(_completion) as server:
        client, pool = _client(server.server_address[1], records)
        for _ in range(3):
            client.call(_NON_STREAM, user_class="ApiUser")
        pool.close()
        assert server.connections == 1
    record = records[0]
    assert [r.error_kind for r in records] == [None, None, None]
    assert (record.output_tokens, record.n_chunks, record.tier, record.itl_s) == (
        3,
        1,
        "free",
        None,
    )
    assert record.t_first_token_s is not None and record.t_first_token_s >= record.t_sent_s


def test_a_stale_keep_alive_socket_is_replaced_without_a_retry() -> None:
    records: list[RequestRecord] = []
    with _serving(_close_after) as server:
        client, pool = _client(server.server_address[1], records)
        client.call(_CALL, user_class="ChatUser")
        time.sleep(0.05)
        client.call(_CALL, user_class="ChatUser")
        pool.close()
        assert server.connections == 2
    assert [(r.error_kind, r.retries) for r in records] == [(None, 0), (None, 0)]


def test_backoff_honours_retry_after_ms_on_429() -> None:
    records: list[RequestRecord] = []
    with _serving(_rate_limited_once) as server:
        client, pool = _client(
            server.server_address[1], records, retry=RetryPolicy(mode="backoff", max_retries=2)
        )
        record = client.call(_CALL, user_class="ChatUser").record
        pool.close()
    assert (record.error_kind, record.status, record.retries) == (None, 200, 1)
    # TTFT counts from the first attempt: the 300 ms wait plus the 150 ms to the first token
    # (never less; more only if this box is slow to wake the threads).
    assert record.t_first_token_s is not None
    assert 0.45 <= record.t_first_token_s - record.t_sent_s < 1.0


def test_naive_retries_immediately_until_the_budget_is_spent() -> None:
    records: list[RequestRecord] = []
    with _serving(_always_429) as server:
        client, pool = _client(
            server.server_address[1], records, retry=RetryPolicy(mode="naive", max_retries=3)
        )
        started = time.perf_counter()
        record = client.call(_CALL, user_class="ChatUser").record
        elapsed = time.perf_counter() - started
        pool.close()
    assert (record.error_kind, record.status, record.retries) == ("status", 429, 3)
    assert record.error is not None and "rate_limit_exceeded" in record.error
    assert elapsed < 0.5


def test_abandonment_cancels_a_stalled_stream() -> None:
    records: list[RequestRecord] = []
    with _serving(_stall) as server:
        client, pool = _client(server.server_address[1], records, abandon=AbandonPolicy(0.3))
        record = client.call(_CALL, user_class="ChatUser").record
        pool.close()
    assert (record.error_kind, record.status) == ("abandoned", 200)
    assert 0.3 <= record.t_done_s - record.t_sent_s < 0.6
    assert record.n_chunks == 1


def test_request_timeout_is_not_abandonment() -> None:
    records: list[RequestRecord] = []
    with _serving(_stall) as server:
        client, pool = _client(server.server_address[1], records, request_timeout_s=0.2)
        record = client.call(_CALL, user_class="ChatUser").record
        pool.close()
    assert record.error_kind == "timeout"


def test_error_event_inside_a_200_stream_is_aborted() -> None:
    records: list[RequestRecord] = []
    with _serving(_error_event) as server:
        client, pool = _client(server.server_address[1], records)
        record = client.call(_CALL, user_class="ChatUser").record
        pool.close()
    assert (record.error_kind, record.status) == ("aborted", 200)
    assert record.error == "internal: engine died"


def test_http_error_status_keeps_the_message() -> None:
    records: list[RequestRecord] = []
    with _serving(_server_error) as server:
        client, pool = _client(server.server_address[1], records)
        record = client.call(_CALL, user_class="ChatUser").record
        pool.close()
    assert (record.error_kind, record.status) == ("status", 500)
    assert record.error == "HTTP 500: internal_error: boom"


def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    records: list[RequestRecord] = []
    client, _ = _client(port, records)
    record = client.call(_CALL, user_class="ChatUser").record
    assert (record.error_kind, record.status, record.t_first_chunk_s) == ("connect", 0, None)


def test_api_base_path_from_host_and_prefix() -> None:
    assert api_endpoint("http://127.0.0.1:8000", "/v1").path_prefix == "/v1"
    assert api_endpoint("http://127.0.0.1:8000/v1/", "/v1").path_prefix == "/v1"
    gateway = api_endpoint("https://gw.example.com/llm", "/v1")
    assert (gateway.port, gateway.path_prefix) == (443, "/llm/v1")
    assert gateway.display_url == "https://gw.example.com/llm/v1"
    assert api_endpoint("http://[::1]:9000/openai", "").host_header == "[::1]:9000"
    with pytest.raises(ValueError, match="Unsupported URL scheme"):
        Endpoint.from_url("ftp://example.com")
