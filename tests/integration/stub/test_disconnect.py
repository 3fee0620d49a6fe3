"""Clients that vanish: their batch slots and KV blocks come back at once, quietly.

The storm opens 1,200 streams against a tiny engine (32 sequences at most, so most wait in
the queue) and drops each at a different point: right after sending, after the response
headers (queued), or after the first token (running); half with FIN, half with RST.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from target_stub.intake import SERVICE_KEY
from target_stub.service import StubService

from .conftest import MakeClient, StubClient, chat_body

STORM_STREAMS = 1200
STORM_CONCURRENCY = 300
DRAIN_DEADLINE_S = 10.0


def _request_bytes(client: StubClient) -> bytes:
    body = json.dumps(chat_body(max_tokens=400, ignore_eos=True, stream=True)).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {client.host}:{client.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _drop(client: StubClient, request: bytes, stage: int) -> bytes:
    """Send a streaming request, read up to ``stage``, then vanish; return what was read."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    seen = b""
    try:
        writer.write(request)
        await writer.drain()
        if stage >= 1:
            seen = await reader.readuntil(b"\r\n\r\n")
        if stage >= 2:
            seen += await reader.readuntil(b'"content":" ')
    finally:
        if stage % 2:
            writer.transport.abort()  # RST
        else:
            writer.close()  # FIN
    return seen


def _idle(service: StubService) -> bool:
    return all(
        runner.outstanding == 0
        and runner.engine.num_running == 0
        and runner.engine.free_blocks == runner.engine.total_blocks
        for runner in service.runners
    )


async def _wait_idle(service: StubService) -> float:
    start = time.monotonic()
    while not _idle(service):
        assert time.monotonic() - start < DRAIN_DEADLINE_S, [
            (r.outstanding, r.engine.num_running, r.engine.free_blocks) for r in service.runners
        ]
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_one_dropped_stream_frees_its_slot_within_a_step(make_client: MakeClient) -> None:
    client = await make_client()
    service = client.app[SERVICE_KEY]
    seen = await _drop(client, _request_bytes(client), stage=2)
    assert seen.startswith(b"HTTP/1.1 200")
    # 400 tokens would take about 2 s; freed within a few 5 ms steps instead.
    assert await _wait_idle(service) < 0.5


async def test_a_queued_client_that_leaves_is_dequeued_at_once(make_client: MakeClient) -> None:
    client = await make_client(overrides={"engine.max_num_seqs": 1})
    runner = client.app[SERVICE_KEY].runners[0]
    running = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=2000, ignore_eos=True, stream=True)
    )
    await running.content.readuntil(b'"content":" ')
    await _drop(client, _request_bytes(client), stage=1)  # queued behind it, then gone
    start = time.monotonic()
    while runner.outstanding > 1:
        assert time.monotonic() - start < 0.5, "the queued request was not aborted"
        await asyncio.sleep(0.005)
    assert runner.engine.num_running == 1
    running.close()
    await _wait_idle(client.app[SERVICE_KEY])


async def test_disconnect_storm_leaves_no_trace(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client()
    service = client.app[SERVICE_KEY]
    request = _request_bytes(client)
    gate = asyncio.Semaphore(STORM_CONCURRENCY)

    async def one(index: int) -> bytes:
        async with gate:
            return await _drop(client, request, stage=index % 4)

    seen = await asyncio.gather(*(one(i) for i in range(STORM_STREAMS)))
    statuses = {part[:12] for part in seen if part}
    assert statuses == {b"HTTP/1.1 200"}
    await _wait_idle(service)
    assert [r.engine.num_waiting for r in service.runners] == [0]
    # The server is still fine afterwards.
    resp = await client.post("/v1/chat/completions", json=chat_body(max_tokens=2))
    assert resp.status == 200
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy[:5]]
