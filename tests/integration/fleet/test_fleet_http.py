"""The fleet behind the real OpenAI API: kills, stalls, startup delay, autoscaling and
/metrics as an HTTP client sees them (the real app on an ephemeral loopback port)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from target_stub.app import create_app
from target_stub.config import load_config

Client = TestClient[web.Request, web.Application]
MakeFleet = Callable[..., Awaitable[Client]]
TOKEN = "fleet-http-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def make_fleet(aiohttp_client: AiohttpClient) -> MakeFleet:
    async def make(**overrides: Any) -> Client:
        config = load_config("tiny", overrides=overrides)
        return await aiohttp_client(create_app(config, admin_token=TOKEN))

    return make


def chat(max_tokens: int, *, stream: bool = True) -> dict[str, Any]:
    return {
        "model": "tiny-llm",
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": stream,
    }


async def next_event(resp: aiohttp.ClientResponse, timeout_s: float = 5.0) -> Any:
    raw = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), timeout_s)
    data = raw.decode().removeprefix("data: ").strip()
    return data if data == "[DONE]" else json.loads(data)


async def rest_of_stream(resp: aiohttp.ClientResponse) -> list[Any]:
    events: list[Any] = []
    while not events or events[-1] != "[DONE]":
        events.append(await next_event(resp))
    return events


async def open_streams(client: Client, n: int, max_tokens: int) -> list[aiohttp.ClientResponse]:
    """Open ``n`` streams one after the other (so round-robin puts stream i on replica
    i % replicas), each past its first token."""
    streams = []
    for _ in range(n):
        resp = await client.post("/v1/chat/completions", json=chat(max_tokens))
        assert resp.status == 200
        await next_event(resp)  # role chunk + first token arrive together
        streams.append(resp)
    return streams


async def state(client: Client) -> dict[str, Any]:
    resp = await client.get("/admin/state", headers=AUTH)
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def wait_for(check: Callable[[], Awaitable[bool]], deadline_s: float, what: str) -> float:
    """Poll ``check`` until true; the loop time it became true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not await check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return loop.time()


async def test_killed_replica_streams_end_with_error_then_done(make_fleet: MakeFleet) -> None:
    client = await make_fleet(replicas=2, router="round_robin")
    streams = await open_streams(client, 4, max_tokens=3000)
    resp = await client.post("/admin/replicas/0/kill", json={"mode": "error"}, headers=AUTH)
    assert resp.status == 200
    for i, stream in enumerate(streams):
        if i % 2 == 0:
            events = await rest_of_stream(stream)
            assert events[-1] == "[DONE]"
            error = events[-2]["error"]
            assert error["code"] == "replica_failed" and "engine-0" in error["message"]
            assert all("choices" in e for e in events[:-2])
    # Replica 1's streams carry on; new requests all land on replica 1 and complete.
    for _ in range(4):
        done = await client.post("/v1/chat/completions", json=chat(5, stream=False))
        assert done.status == 200
    routed = [r["routed_total"] for r in (await state(client))["replicas"]]
    assert routed == [2, 6]
    for i, stream in enumerate(streams):
        if i % 2 == 1:
            assert (await next_event(stream))["choices"][0]["delta"]["content"]
            stream.close()
    ready = await client.get("/health/ready")
    assert ready.status == 200


async def test_drop_mode_closes_the_connection_without_done(make_fleet: MakeFleet) -> None:
    client = await make_fleet(replicas=2, router="round_robin")
    streams = await open_streams(client, 2, max_tokens=3000)
    blocking = client.post("/v1/chat/completions", json=chat(3000, stream=False))
    pending = asyncio.ensure_future(blocking)
    await asyncio.sleep(0.05)  # the non-streamed request is on replica 0 (third in turn)
    resp = await client.post("/admin/replicas/0/kill", json={"mode": "drop"}, headers=AUTH)
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await rest_of_stream(streams[0])
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert (await next_event(streams[1]))["choices"]
    streams[1].close()


async def test_non_streamed_request_on_killed_replica_gets_503(make_fleet: MakeFleet) -> None:
    client = await make_fleet(replicas=1)
    pending = asyncio.ensure_future(
        client.post("/v1/chat/completions", json=chat(3000, stream=False))
    )
    await wait_for(lambda: _running(client, 0), 5.0, "the request to run")
    await client.post("/admin/replicas/0/kill", json={"restart_after_s": 0.2}, headers=AUTH)
    resp = await pending
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "replica_failed"
    refused = await client.post("/v1/chat/completions", json=chat(3, stream=False))
    assert refused.status == 503
    assert (await refused.json())["error"]["code"] == "no_replica"
    assert (await client.get("/health")).status == 503
    assert (await client.get("/health/ready")).status == 503
    await wait_for(_ready(client), 5.0, "the restart")
    ok = await client.post("/v1/chat/completions", json=chat(3, stream=False))
    assert ok.status == 200


async def _running(client: Client, index: int) -> bool:
    return bool((await state(client))["replicas"][index]["running"])


def _ready(client: Client) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await client.get("/health/ready")).status == 200

    return check


async def test_stalled_replica_freezes_streams_while_health_stays_200(
    make_fleet: MakeFleet,
) -> None:
    client = await make_fleet(replicas=1)
    (stream,) = await open_streams(client, 1, max_tokens=150)
    resp = await client.post("/admin/faults", json={"kind": "stall", "replica": 0}, headers=AUTH)
    assert resp.status == 201
    fault_id = (await resp.json())["id"]
    # Drain what was already written, then nothing more comes: a hang, not an error.
    with pytest.raises(TimeoutError):
        while True:
            await next_event(stream, timeout_s=0.3)
    assert (await client.get("/health")).status == 200
    assert (await client.get("/health/ready")).status == 200
    assert (await state(client))["replicas"][0]["stalled"] is True
    await client.delete(f"/admin/faults/{fault_id}", headers=AUTH)
    events = await rest_of_stream(stream)
    assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "length"


async def test_startup_delay_answers_503_until_ready(make_fleet: MakeFleet) -> None:
    client = await make_fleet(replicas=2, faults=[{"kind": "startup_delay", "delay_s": 0.4}])
    ready = await client.get("/health/ready")
    assert ready.status == 503
    assert (await client.get("/health")).status == 200
    refused = await client.post("/v1/chat/completions", json=chat(3, stream=False))
    assert refused.status == 503 and "retry-after-ms" in refused.headers
    assert (await refused.json())["error"]["code"] == "no_ready_replica"
    await wait_for(_ready(client), 5.0, "the startup delay to end")
    assert (await client.post("/v1/chat/completions", json=chat(3, stream=False))).status == 200


async def test_autoscaler_adds_a_replica_after_the_delay_and_removes_it_after_cooldown(
    make_fleet: MakeFleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="target_stub.autoscaler")
    client = await make_fleet(
        replicas=1,
        **{
            "engine.max_num_seqs": 2,
            "autoscaler.enabled": True,
            "autoscaler.max_replicas": 2,
            "autoscaler.interval_s": 0.05,
            "autoscaler.window_s": 0.2,
            "autoscaler.scale_up_waiting_per_replica": 2.0,
            "autoscaler.provisioning_delay_s": 0.5,
            "autoscaler.cooldown_s": 0.6,
        },
    )
    burst = [
        asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(60, stream=False)))
        for _ in range(10)
    ]

    async def scaled_up() -> bool:
        return bool((await state(client))["counts"]["starting"] == 1)

    t_decided = await wait_for(scaled_up, 5.0, "a scale-up decision")

    async def two_ready() -> bool:
        return bool((await state(client))["counts"]["ready"] == 2)

    t_ready = await wait_for(two_ready, 5.0, "the new replica to be ready")
    assert 0.4 <= t_ready - t_decided <= 1.5  # the 0.5 s cold start, polled every 20 ms
    responses = await asyncio.gather(*burst)
    assert all(r.status == 200 for r in responses)

    async def one_ready() -> bool:
        counts = (await state(client))["counts"]
        return bool(counts["ready"] == 1 and counts["draining"] == 0)

    await wait_for(one_ready, 10.0, "the scale-down")
    decisions = (await state(client))["autoscaler"]["recent"]
    assert [(d["action"], d["reason"]) for d in decisions] == [
        ("scale_up", "queueing"),
        ("scale_down", "idle"),
    ]
    assert decisions[1]["t_s"] - decisions[0]["t_s"] >= 0.6 - 0.002  # rounded to ms
    metrics = await (await client.get("/metrics")).text()
    counts = {
        (s.labels["action"], s.labels["reason"]): s.value
        for f in text_string_to_metric_families(metrics)
        if f.name == "surgebench:autoscaler_decisions"
        for s in f.samples
    }
    assert counts[("scale_up", "queueing")] == 1 and counts[("scale_down", "idle")] == 1
    assert sum(1 for r in caplog.records if r.getMessage().startswith("autoscaler: ")) == 2


async def test_metrics_counters_agree_with_what_was_sent(make_fleet: MakeFleet) -> None:
    client = await make_fleet(replicas=2)
    sent = [3, 17, 40, 8, 1, 25]
    prompt_total = 0
    for i, max_tokens in enumerate(sent):
        resp = await client.post("/v1/chat/completions", json=chat(max_tokens, stream=i % 2 == 0))
        if i % 2 == 0:
            events = await rest_of_stream(resp)
            assert events[-1] == "[DONE]"
        else:
            prompt_total += (await resp.json())["usage"]["prompt_tokens"]
    resp = await client.get("/metrics")
    assert resp.status == 200
    samples: dict[str, float] = {}
    model_names = set()
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[s.name] = samples.get(s.name, 0.0) + s.value
            if s.name.startswith("vllm:"):
                model_names.add(s.labels["model_name"])
    assert model_names == {"tiny-llm"}
    assert samples["vllm:generation_tokens_total"] == sum(sent)
    assert samples["vllm:e2e_request_latency_seconds_count"] == len(sent)
    assert samples["vllm:inter_token_latency_seconds_count"] == sum(n - 1 for n in sent)
    assert samples["surgebench:router_requests_total"] == len(sent)
    # Same prompt every time: the non-streamed usage tells the per-request prompt size.
    assert samples["vllm:prompt_tokens_total"] == prompt_total * 2
    assert samples["vllm:num_requests_running"] == 0


async def test_error_rate_fault_answers_the_chosen_status_in_openai_shape(
    make_fleet: MakeFleet,
) -> None:
    client = await make_fleet(
        replicas=2, faults=[{"kind": "error_rate", "rate_frac": 1.0, "status_codes": [429]}]
    )
    resp = await client.post("/v1/chat/completions", json=chat(3, stream=False))
    assert resp.status == 429
    assert int(resp.headers["retry-after"]) >= 1
    error = (await resp.json())["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert (await client.post("/admin/faults/clear", headers=AUTH)).status == 200
    assert (await client.post("/v1/chat/completions", json=chat(3, stream=False))).status == 200
    rejections = (await state(client))["rejections"]
    assert rejections == {"injected_error": 1}
