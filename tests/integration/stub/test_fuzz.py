"""Property: whatever body a client sends, the stub answers 2xx or 4xx, never 5xx, and logs
no traceback. Runs against the real stub process over plain HTTP/1.1 (http.client)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.stub_process import StubProcess

from .conftest import stub_process

PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/images/generations")
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzz_stub() -> Iterator[StubProcess]:
    # A short context and exact fast timing keep any valid request that slips through cheap.
    args = ["--preset", "tiny", "--max-model-len", "256", "--fixed-ttft-ms", "1"]
    with stub_process([*args, "--fixed-itl-ms", "0.05"]) as stub:
        yield stub
    assert not [line for line in stub.output if "Traceback" in line or "ERROR" in line]


@pytest.fixture(scope="module")
def connection(fuzz_stub: StubProcess) -> Iterator[http.client.HTTPConnection]:
    parts = urlsplit(fuzz_stub.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    yield conn
    conn.close()


def _status(conn: http.client.HTTPConnection, method: str, path: str, body: bytes) -> int:
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
    except (ConnectionError, http.client.HTTPException):
        conn.close()  # the server may close after an error; reconnect and retry once
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
    return resp.status


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
FIELDS = (
    "model",
    "messages",
    "prompt",
    "input",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "ignore_eos",
    "n",
    "seed",
    "stop",
    "temperature",
    "size",
    "encoding_format",
    "dimensions",
)


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values three times in four, anything at all otherwise."""
    return st.one_of(valid, valid, valid, json_values)


good_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant"]), "content": st.text(max_size=30)}
    ),
    min_size=1,
    max_size=3,
)
# Every endpoint's required fields are present (unknown fields are ignored), so a good
# share of the requests is valid and exercises generation, streaming and embeddings too.
near_valid = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["tiny-llm", "tiny-llm", "tiny-llm", "other"]),
        "messages": _mostly(good_messages),
        "prompt": _mostly(st.text(max_size=30) | st.lists(st.integers(0, 300), min_size=1)),
        "input": _mostly(st.text(min_size=1, max_size=30) | st.lists(st.text(max_size=5))),
    },
    optional={
        "max_tokens": _mostly(st.integers(-3, 300)),
        "max_completion_tokens": _mostly(st.integers(-3, 300)),
        "stream": _mostly(st.booleans()),
        "stream_options": _mostly(st.fixed_dictionaries({"include_usage": st.booleans()})),
        "ignore_eos": _mostly(st.booleans()),
        "n": _mostly(st.just(1)),
        "seed": _mostly(st.integers(-(2**70), 2**70)),
        "temperature": _mostly(st.floats(0, 2)),
        "stop": _mostly(st.text(max_size=3) | st.lists(st.text(max_size=3))),
        "dimensions": _mostly(st.integers(1, 64)),
        "encoding_format": st.sampled_from(["float", "base64", "hex"]),
        "size": st.sampled_from(["1024x1024", "auto", "big", "0x0"]),
    },
)


@FUZZ_SETTINGS
@given(path=st.sampled_from(PATHS), body=near_valid)
def test_near_valid_requests_never_5xx(
    connection: http.client.HTTPConnection, path: str, body: dict[str, Any]
) -> None:
    status = _status(connection, "POST", path, json.dumps(body).encode())
    event(f"status {status}")
    assert 200 <= status < 500


@FUZZ_SETTINGS
@given(
    path=st.sampled_from(PATHS),
    body=st.dictionaries(st.sampled_from(FIELDS), json_values) | json_values,
)
def test_random_json_never_5xx(
    connection: http.client.HTTPConnection, path: str, body: object
) -> None:
    assert 200 <= _status(connection, "POST", path, json.dumps(body).encode()) < 500


@FUZZ_SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.sampled_from([*PATHS, "/v1/models", "/health", "/v1/models/x", "/v2/nothing"]),
    body=st.binary(max_size=300),
)
def test_random_bytes_and_methods_never_5xx(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes
) -> None:
    assert 200 <= _status(connection, method, path, body) < 500


MALFORMED = (
    b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00",  # a TLS ClientHello on the plain port
    b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
)


@FUZZ_SETTINGS
@given(
    raw=st.sampled_from(MALFORMED)
    | st.binary(min_size=1, max_size=200).map(
        lambda tail: b"POST /v1/completions HTTP/1.1\r\n" + tail
    )
)
def test_malformed_http_is_never_5xx(fuzz_stub: StubProcess, raw: bytes) -> None:
    parts = urlsplit(fuzz_stub.url)
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)  # an incomplete request then ends at EOF
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    # No answer at all is fine (the request never completed); a 5xx never is.
    assert not answer.startswith((b"HTTP/1.0 5", b"HTTP/1.1 5")), answer[:80]
