"""Shared fixtures: the real app on an ephemeral loopback port, and an SSE body parser."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from target_stub.app import create_app
from target_stub.config import load_config
from tests.stub_process import StubProcess, running_stub

StubClient = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[StubClient]]

# Fast timing for image tests: 2 denoising steps of 5 ms instead of 30 of 45 ms.
FAST_IMAGES = {"engine.image_steps": 2, "engine.image_step_ms": 5.0}


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient) -> MakeClient:
    """``await make_client("tiny", overrides={"engine.max_num_seqs": 4}, api_keys=None)``."""

    async def make(
        preset: str = "tiny",
        *,
        overrides: dict[str, Any] | None = None,
        api_keys: frozenset[str] | None = None,
    ) -> StubClient:
        config = load_config(preset, overrides=overrides)
        return await aiohttp_client(create_app(config, api_keys=api_keys))

    return make


def sse_events(body: str) -> list[Any]:
    """The JSON payloads of ``data:`` events, with ``"[DONE]"`` kept as a string."""
    assert body.endswith("\n\n"), body[-50:]
    events: list[Any] = []
    for block in body.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "tiny-llm", "messages": [{"role": "user", "content": "hello"}], **extra}


def stub_process(
    args: Sequence[str], *, env: Mapping[str, str] | None = None
) -> AbstractContextManager[StubProcess]:
    """The real stub process (``tests.stub_process.running_stub``, which closes its pipe)."""
    return running_stub(args, env=env)
