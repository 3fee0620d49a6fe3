"""Wire details against the real app (aiohttp test server on a loopback port).

Stream event order and shapes (REFERENCE section 2), headers, lengths, seeds, and the error
bodies of bad requests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
from typing import Any

import numpy as np

from target_stub.intake import SERVICE_KEY
from target_stub.png import PNG_SIGNATURE

from .conftest import FAST_IMAGES, MakeClient, StubClient, chat_body, sse_events


async def _stream(client: StubClient, path: str, body: dict[str, Any]) -> tuple[Any, list[Any]]:
    resp = await client.post(path, json=body)
    assert resp.status == 200, await resp.text()
    return resp, sse_events(await resp.text())


async def test_chat_stream_has_role_content_final_usage_done(make_client: MakeClient) -> None:
    client = await make_client()
    body = chat_body(
        max_tokens=7, ignore_eos=True, stream=True, stream_options={"include_usage": True}
    )
    resp, events = await _stream(client, "/v1/chat/completions", body)
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert resp.headers["x-request-id"]
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {"chatcmpl-" + resp.headers["x-request-id"]}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert len(contents) == 7 and all(text.startswith(" ") for text in contents)
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "length",
    }
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens"] == 7
    assert usage["total_tokens"] == usage["prompt_tokens"] + 7


async def test_text_completion_stream_uses_text_and_no_usage_by_default(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    body = {"model": "tiny-llm", "prompt": "abcdefgh", "max_tokens": 3, "stream": True}
    _, events = await _stream(client, "/v1/completions", {**body, "ignore_eos": True})
    chunks = events[:-1]
    assert all(c["object"] == "text_completion" and "usage" not in c for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "length"]
    assert all(c["choices"][0]["text"] for c in chunks[:3])


async def test_stream_interval_groups_tokens_after_the_first(make_client: MakeClient) -> None:
    client = await make_client(overrides={"stream_interval_tokens": 4})
    body = chat_body(max_tokens=10, ignore_eos=True, stream=True)
    _, events = await _stream(client, "/v1/chat/completions", body)
    contents = [c["choices"][0]["delta"]["content"] for c in events[1:-2]]
    # First token alone (exact TTFT), then 4 + 4, then the last token flushed at the finish.
    assert [text.count(" ") for text in contents] == [1, 4, 4, 1]


async def test_non_streamed_chat_and_completion_bodies(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post("/v1/chat/completions", json=chat_body(max_tokens=5, ignore_eos=True))
    assert resp.status == 200
    body = await resp.json()
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].count(" ") == 5
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    resp = await client.post("/v1/completions", json={"model": "tiny-llm", "prompt": [1, 2, 3]})
    body = await resp.json()
    assert body["object"] == "text_completion"
    assert body["usage"]["prompt_tokens"] == 3
    # Without ignore_eos the length is drawn, capped by the completions default of 16.
    assert 1 <= body["usage"]["completion_tokens"] <= 16


async def test_drawn_lengths_vary_and_stop_below_the_cap(make_client: MakeClient) -> None:
    client = await make_client()
    replies = await asyncio.gather(
        *(client.post("/v1/chat/completions", json=chat_body(max_tokens=1000)) for _ in range(12))
    )
    bodies = [await resp.json() for resp in replies]
    reasons = {body["choices"][0]["finish_reason"] for body in bodies}
    lengths = {body["usage"]["completion_tokens"] for body in bodies}
    assert reasons == {"stop"} and len(lengths) > 3


async def test_request_seed_reproduces_text_and_length(make_client: MakeClient) -> None:
    client = await make_client()
    bodies = []
    for _ in range(2):
        resp = await client.post("/v1/chat/completions", json=chat_body(seed=42, max_tokens=500))
        bodies.append(await resp.json())
    assert bodies[0]["choices"][0]["message"] == bodies[1]["choices"][0]["message"]


async def test_client_request_id_is_echoed(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post(
        "/v1/chat/completions",
        json=chat_body(max_tokens=1),
        headers={"x-request-id": "trace-123"},
    )
    assert resp.headers["x-request-id"] == "trace-123"
    assert (await resp.json())["id"] == "chatcmpl-trace-123"


async def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.headers["x-request-id"]
    body = await resp.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


async def test_bad_requests_are_4xx_in_openai_shape(make_client: MakeClient) -> None:
    client = await make_client()
    path = "/v1/chat/completions"
    error = await _error(await client.post(path, json=chat_body(model="gpt-9")), 404)
    assert error["code"] == "model_not_found" and "gpt-9" in error["message"]
    error = await _error(await client.post(path, json=chat_body(max_tokens=0)), 400)
    assert error["param"] == "max_tokens"
    error = await _error(await client.post(path, json=chat_body(max_tokens=5000)), 400)
    assert error["code"] == "context_length_exceeded" and "4096" in error["message"]
    assert error["param"] == "max_tokens"
    long_prompt = chat_body(messages=[{"role": "user", "content": "x" * 20_000}])
    error = await _error(await client.post(path, json=long_prompt), 400)
    assert error["param"] == "messages" and "maximum context length is 4096" in error["message"]
    error = await _error(await client.post(path, data=b"{not json"), 400)
    assert "not valid JSON" in error["message"]
    error = await _error(await client.post(path, json={"model": "tiny-llm"}), 400)
    assert error["param"] == "messages"
    error = await _error(await client.post(path, json=chat_body(max_tokens=2.5)), 400)
    assert error["param"] == "max_tokens"
    error = await _error(await client.get("/v1/nothing"), 404)
    error = await _error(await client.get(path), 405)
    assert "POST" in error["message"]


async def test_oversized_body_is_413_in_error_shape(make_client: MakeClient) -> None:
    client = await make_client(overrides={"max_body_bytes": 2048})
    big = chat_body(messages=[{"role": "user", "content": "x" * 5000}])
    error = await _error(await client.post("/v1/chat/completions", json=big), 413)
    assert "2048" in error["message"]


async def test_embeddings_float_and_base64(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post(
        "/v1/embeddings", json={"model": "tiny-llm", "input": ["abcd", "abcdefgh"], "dimensions": 8}
    )
    body = await resp.json()
    assert resp.status == 200 and body["object"] == "list"
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vectors = [item["embedding"] for item in body["data"]]
    assert [len(v) for v in vectors] == [8, 8]
    assert all(math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-5) for v in vectors)
    resp = await client.post(
        "/v1/embeddings",
        json={"model": "tiny-llm", "input": [5, 6, 7], "encoding_format": "base64"},
    )
    item = (await resp.json())["data"][0]
    raw = base64.b64decode(item["embedding"])
    assert len(raw) == 4 * 256
    assert math.isclose(math.hypot(*struct.unpack("<256f", raw)), 1.0, rel_tol=1e-5)
    error = await _error(
        await client.post("/v1/embeddings", json={"model": "tiny-llm", "input": ""}), 400
    )
    assert error["param"] == "input"


async def test_images_need_an_image_preset(make_client: MakeClient) -> None:
    text = await make_client()
    error = await _error(await text.post("/v1/images/generations", json={"prompt": "a cat"}), 400)
    assert error["param"] == "model" and "image preset" in error["message"]
    image = await make_client("h100-sdxl", overrides=FAST_IMAGES)
    resp = await image.post("/v1/images/generations", json={"prompt": "a cat", "n": 2})
    body = await resp.json()
    assert resp.status == 200 and len(body["data"]) == 2
    assert all(base64.b64decode(d["b64_json"]).startswith(PNG_SIGNATURE) for d in body["data"])
    error = await _error(await image.post("/v1/chat/completions", json=chat_body()), 404)
    error = await _error(
        await image.post(
            "/v1/chat/completions", json=chat_body(model="stabilityai/stable-diffusion-xl-base-1.0")
        ),
        400,
    )
    assert "images/generations" in error["message"]


async def test_models_and_health(make_client: MakeClient) -> None:
    client = await make_client()
    models = await client.get("/v1/models", headers={"x-request-id": "abc"})
    assert models.headers["x-request-id"] == "abc"
    body = await models.json()
    assert body["object"] == "list" and body["data"][0]["id"] == "tiny-llm"
    assert (await client.get("/v1/models/tiny-llm")).status == 200
    await _error(await client.get("/v1/models/other"), 404)
    assert (await client.get("/health")).status == 200
    assert (await (await client.get("/health/ready")).json()) == {"status": "ready"}


async def test_a_killed_replica_ends_streams_with_an_error_event(make_client: MakeClient) -> None:
    client = await make_client()
    runner = client.app[SERVICE_KEY].runners[0]
    stream = await client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=2000, ignore_eos=True, stream=True)
    )
    await stream.content.readuntil(b'"content":" ')
    plain = asyncio.ensure_future(
        client.post("/v1/chat/completions", json=chat_body(max_tokens=2000, ignore_eos=True))
    )
    while runner.outstanding < 2:
        await asyncio.sleep(0.005)
    runner.kill()
    events = sse_events((await stream.content.read()).decode().split("\n\n", 1)[1])
    assert events[-2]["error"]["code"] == "replica_failed" and events[-1] == "[DONE]"
    assert (await plain).status == 503
    runner.close()
    health = await client.get("/health")
    assert health.status == 503
    assert (await health.json())["error"]["code"] == "no_replica"
    assert (await client.get("/health/ready")).status == 503
    error = await _error(await client.post("/v1/chat/completions", json=chat_body()), 503)
    assert error["code"] == "no_replica"


async def test_http_1_0_clients_get_an_unchunked_stream_ended_by_close(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    body = json.dumps(chat_body(max_tokens=3, ignore_eos=True, stream=True)).encode()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    raw = await reader.read()  # until the server closes
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"chunked" not in head.lower()
    events = sse_events(payload.decode())
    assert events[-1] == "[DONE]" and len(events) == 6  # role, 3 tokens, final, done
