"""Overload shedding (429/503 with retry-after), per-key rate limits, and the API-key check."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from target_stub.intake import SERVICE_KEY

from .conftest import MakeClient, StubClient, chat_body


async def _queue_one_behind_a_running_stream(client: StubClient) -> tuple[Any, asyncio.Task[Any]]:
    """With max_num_seqs = 1: A streams (running), B waits in the queue."""
    stream = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=2000, ignore_eos=True, stream=True)
    )
    assert stream.status == 200
    await stream.content.readuntil(b'"content":" ')  # A's first token: A is running
    queued = asyncio.ensure_future(
        client.post("/v1/chat/completions", json=chat_body(max_tokens=2, ignore_eos=True))
    )
    runner = client.app[SERVICE_KEY].runners[0]
    deadline = time.monotonic() + 5.0
    while runner.outstanding - runner.engine.num_running < 1:
        assert time.monotonic() < deadline, "B never reached the queue"
        await asyncio.sleep(0.005)
    return stream, queued


async def test_full_queue_answers_503_overloaded_with_retry_after(make_client: MakeClient) -> None:
    client = await make_client(
        overrides={
            "engine.max_num_seqs": 1,
            "overload.max_waiting_requests": 1,
            "overload.retry_after_s": 2.5,
        }
    )
    stream, queued = await _queue_one_behind_a_running_stream(client)
    resp = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1))
    assert resp.status == 503
    assert (resp.headers["retry-after"], resp.headers["retry-after-ms"]) == ("3", "2500")
    error = (await resp.json())["error"]
    assert error["message"] == "The engine is currently overloaded, please try again later"
    stream.close()  # A leaves; B is served
    assert (await queued).status == 200


async def test_full_queue_can_answer_429_naming_requests_or_tokens(make_client: MakeClient) -> None:
    client = await make_client(
        overrides={
            "engine.max_num_seqs": 1,
            "overload.max_waiting_requests": 1,
            "overload.reject_status": 429,
        }
    )
    stream, queued = await _queue_one_behind_a_running_stream(client)
    resp = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1))
    assert resp.status == 429 and resp.headers["retry-after"] == "1"
    error = (await resp.json())["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    stream.close()
    await queued

    client = await make_client(
        overrides={
            "engine.max_num_seqs": 1,
            "overload.max_waiting_tokens": 100,
            "overload.reject_status": 429,
        }
    )
    stream, queued = await _queue_one_behind_a_running_stream(client)
    small = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1, stream=True))
    assert small.status == 200  # 8 + 8 queued prompt tokens fit into 100
    long = chat_body(messages=[{"role": "user", "content": "x" * 400}], max_tokens=1)
    resp = await client.post("/v1/chat/completions", json=long)
    assert resp.status == 429
    assert (await resp.json())["error"]["type"] == "tokens"
    stream.close()
    small.close()
    await queued


async def test_rate_limits_send_headers_and_429_per_key(make_client: MakeClient) -> None:
    client = await make_client(
        overrides={"rate_limits.requests_per_minute": 2, "rate_limits.tokens_per_minute": 1000}
    )
    headers = {"Authorization": "Bearer key-a"}
    first = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=10), headers=headers
    )
    assert first.status == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"
    assert first.headers["x-ratelimit-remaining-tokens"] == "982"  # 8 prompt + 10 max_tokens
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    stream = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=1, stream=True), headers=headers
    )
    assert stream.headers["x-ratelimit-remaining-requests"] == "0"
    await stream.read()
    third = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1), headers=headers)
    assert third.status == 429
    assert third.headers["retry-after"] == "30" and third.headers["retry-after-ms"]
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    error = (await third.json())["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    other = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=1), headers={"Authorization": "Bearer b"}
    )
    assert other.status == 200


async def test_api_key_is_required_on_v1_only(make_client: MakeClient) -> None:
    client = await make_client(api_keys=frozenset({"k1", "k2"}))
    missing = await client.get("/v1/models")
    assert missing.status == 401
    assert (await missing.json())["error"]["code"] == "invalid_api_key"
    wrong = await client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401 and "nope" not in await wrong.text()
    for key in ("k1", "k2"):
        ok = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert ok.status == 200
    assert (await client.get("/health")).status == 200
