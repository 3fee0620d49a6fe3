"""The official openai SDK, unchanged, against the real stub process: every endpoint.

Streaming and not, the usage chunk, and the mapping of our error statuses onto the SDK's
exception classes (NotFoundError, BadRequestError, AuthenticationError, RateLimitError,
InternalServerError).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from target_stub.png import PNG_SIGNATURE
from tests.stub_process import StubProcess

from .conftest import stub_process

MODEL = "tiny-llm"
IMAGE_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
KEY_ENV = "SURGEBENCH_TEST_STUB_KEYS"


@pytest.fixture(scope="module")
def tiny() -> Iterator[StubProcess]:
    with stub_process(["--preset", "tiny"]) as stub:
        yield stub


@pytest.fixture(scope="module")
def image_stub() -> Iterator[StubProcess]:
    args = [
        "--preset",
        "h100-sdxl",
        "--set",
        "engine.image_steps=2",
        "--set",
        "engine.image_step_ms=5",
    ]
    with stub_process(args) as stub:
        yield stub


@pytest.fixture(scope="module")
def guarded() -> Iterator[StubProcess]:
    args = ["--preset", "tiny", "--api-key-env", KEY_ENV, "--rpm", "3"]
    with stub_process(args, env={KEY_ENV: "sk-good,sk-other"}) as stub:
        yield stub


def _client(stub: StubProcess, api_key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{stub.url}/v1", api_key=api_key, max_retries=0)


async def test_chat_stream_with_usage(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.count(" ") == 6
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] == "length" and set(finals[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert all(c.usage is None for c in chunks[:-1])


async def test_chat_non_streamed_with_max_completion_tokens(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        reply = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            max_completion_tokens=4,
            temperature=0.7,
            top_p=0.9,
            seed=3,
            stop=["\n"],
            extra_body={"ignore_eos": True},
        )
    assert reply.choices[0].message.content is not None
    assert reply.choices[0].message.content.count(" ") == 4
    assert reply.usage is not None and reply.usage.completion_tokens == 4


async def test_completions_streamed_and_not(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        reply = await client.completions.create(model=MODEL, prompt="once upon", max_tokens=3)
        assert reply.object == "text_completion" and reply.choices[0].text
        stream = await client.completions.create(
            model=MODEL,
            prompt="once upon",
            max_tokens=3,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices).count(" ") == 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


async def test_embeddings_default_base64_and_float(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        default = await client.embeddings.create(model=MODEL, input=["a b", "c d e"])
        floats = await client.embeddings.create(
            model=MODEL, input="x", encoding_format="float", dimensions=16
        )
    assert [len(d.embedding) for d in default.data] == [256, 256]
    assert len(floats.data[0].embedding) == 16
    assert default.usage.prompt_tokens == 3  # ceil(3/4) + ceil(5/4)


async def test_models(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        models = [m.id async for m in client.models.list()]
        one = await client.models.retrieve(MODEL)
    assert models == [MODEL] and one.id == MODEL


async def test_images(image_stub: StubProcess) -> None:
    async with _client(image_stub) as client:
        result = await client.images.generate(prompt="a lighthouse at dusk", n=2, size="1024x1024")
        stream = await client.images.generate(model=IMAGE_MODEL, prompt="a fox")
    assert result.data is not None and len(result.data) == 2
    for image in [*result.data, *(stream.data or [])]:
        assert image.b64_json is not None
        assert base64.b64decode(image.b64_json).startswith(PNG_SIGNATURE)


async def test_errors_map_onto_sdk_exceptions(tiny: StubProcess) -> None:
    async with _client(tiny) as client:
        with pytest.raises(openai.NotFoundError) as not_found:
            await client.chat.completions.create(
                model="gpt-unknown", messages=[{"role": "user", "content": "x"}]
            )
        assert not_found.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError) as bad:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=10**6
            )
        assert bad.value.code == "context_length_exceeded" and bad.value.param == "max_tokens"
        with pytest.raises(openai.BadRequestError):
            await client.images.generate(prompt="no images on a text preset")


async def test_auth_and_rate_limit_errors(guarded: StubProcess) -> None:
    async with _client(guarded, api_key="sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    async with _client(guarded, api_key="sk-good") as client:
        for _ in range(3):
            raw = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=1
            )
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=1
            )
        assert limited.value.code == "rate_limit_exceeded"
        assert limited.value.response.headers["retry-after"] == "20"
    assert not [line for line in guarded.output if "Traceback" in line or "sk-" in line]
