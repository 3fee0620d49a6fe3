"""Request parsing: every bad body is a 400 naming the field; nothing else escapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_stub.errors import ApiError
from target_stub.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ImageRequest,
    parse_body,
)

MODELS = (ChatCompletionRequest, CompletionRequest, EmbeddingRequest, ImageRequest)


def _error(
    model: type[ChatCompletionRequest] | type[CompletionRequest], body: object
) -> dict[str, object]:
    with pytest.raises(ApiError) as info:
        parse_body(model, json.dumps(body).encode())
    assert info.value.status == 400
    return info.value.body()["error"]


def test_valid_chat_request_parses_with_usage_flag() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 5,
        "temperature": 0.5,
        "stop": ["\n"],
        "unknown_future_field": 1,
    }
    req = parse_body(ChatCompletionRequest, json.dumps(body).encode())
    assert req.include_usage and req.requested_max_tokens() == (5, "max_completion_tokens")
    assert req.messages[0].text() == "hi"


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "Missing required"),
        ({"model": "m", "messages": []}, "messages", "at least 1"),
        ({"model": "m", "messages": [{"role": "robot"}]}, "messages.0.role", "'user'"),
        (
            {"model": "m", "messages": [{"role": "user", "content": 5}]},
            "messages.0.content",
            "a string",
        ),
        (
            {"model": "m", "messages": [{"role": "user"}], "max_tokens": "5"},
            "max_tokens",
            "integer",
        ),
        ({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}, "stream", "boolean"),
        ({"model": "m", "messages": [{"role": "user"}], "n": 2}, "n", "only n=1"),
        ({"model": "m", "messages": [{"role": "user"}], "top_p": 1.5}, "top_p", "less than"),
    ],
)
def test_chat_errors_name_the_field(body: object, param: str, fragment: str) -> None:
    error = _error(ChatCompletionRequest, body)
    assert error["param"] == param
    assert fragment in str(error["message"])


def test_completion_prompt_forms() -> None:
    for prompt in ("hi", ["hi"], [1, 2, 3], [[1, 2]]):
        parse_body(CompletionRequest, json.dumps({"model": "m", "prompt": prompt}).encode())
    error = _error(CompletionRequest, {"model": "m", "prompt": ["a", "b"]})
    assert error["param"] == "prompt" and "one-element" in str(error["message"])


def test_malformed_json_and_non_object_bodies() -> None:
    for raw, fragment in (
        (b"{", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b"\xff", "not valid JSON"),
    ):
        with pytest.raises(ApiError, match=fragment):
            parse_body(ChatCompletionRequest, raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_api_errors(raw: bytes) -> None:
    for model in MODELS:
        try:
            parse_body(model, raw)
        except ApiError as err:
            assert err.status == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "model",
                "messages",
                "prompt",
                "input",
                "max_tokens",
                "stream",
                "stream_options",
                "n",
                "stop",
                "size",
                "seed",
            ]
        ),
        json_values,
    )
)
def test_random_json_objects_only_ever_raise_api_errors(body: dict[str, object]) -> None:
    raw = json.dumps(body).encode()
    for model in MODELS:
        try:
            parse_body(model, raw)
        except ApiError as err:
            assert err.status == 400 and err.message
