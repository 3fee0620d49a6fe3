"""Chunk encoding: every event is valid JSON in OpenAI's shape; HTTP chunk framing is exact."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from target_stub.errors import ApiError
from target_stub.sse import DONE_EVENT, ChunkEncoder, Endpoint, error_event, http_chunk
from target_stub.text import VOCABULARY


def _decode(event: bytes) -> dict[str, object]:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    value = json.loads(event[len(b"data: ") : -2])
    assert isinstance(value, dict)
    return value


def _encoder(endpoint: Endpoint, include_usage: bool, model: str = "m/x") -> ChunkEncoder:
    return ChunkEncoder(
        endpoint=endpoint,
        request_id="chatcmpl-abc",
        created_s=1_700_000_000,
        model=model,
        include_usage=include_usage,
    )


def test_chat_events_have_openai_shape_and_usage_null_when_usage_requested() -> None:
    enc = _encoder("chat", include_usage=True)
    role = _decode(enc.role())
    assert role["object"] == "chat.completion.chunk"
    assert role["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert role["usage"] is None
    content = _decode(enc.content(b" hello"))
    assert content["choices"] == [
        {"index": 0, "delta": {"content": " hello"}, "logprobs": None, "finish_reason": None}
    ]
    assert content["usage"] is None and content["id"] == "chatcmpl-abc"
    final = _decode(enc.final("length"))
    assert final["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}
    ]
    usage = _decode(enc.usage(prompt_tokens=3, completion_tokens=4))
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_without_include_usage_no_usage_key_and_no_usage_event() -> None:
    enc = _encoder("chat", include_usage=False)
    assert "usage" not in _decode(enc.content(b" x"))
    assert "usage" not in _decode(enc.final("stop"))
    assert enc.usage(prompt_tokens=1, completion_tokens=1) == b""


def test_text_completion_events_use_text_and_no_role_event() -> None:
    enc = _encoder("completions", include_usage=True)
    assert enc.role() == b""
    content = _decode(enc.content(b" word"))
    assert content["object"] == "text_completion"
    assert content["choices"] == [
        {"index": 0, "text": " word", "logprobs": None, "finish_reason": None}
    ]
    final = _decode(enc.final("stop"))
    assert final["choices"] == [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}]


def test_model_names_needing_escapes_stay_valid_json() -> None:
    enc = _encoder("chat", include_usage=False, model='we"ird\\name')
    assert _decode(enc.content(b" a"))["model"] == 'we"ird\\name'


@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=20))
def test_any_vocabulary_text_is_spliced_into_valid_json(words: list[bytes]) -> None:
    text = b"".join(words)
    endpoints: tuple[Endpoint, ...] = ("chat", "completions")
    for endpoint in endpoints:
        enc = _encoder(endpoint, include_usage=True)
        choice = _decode(enc.content(text))["choices"]
        assert isinstance(choice, list)
        got = choice[0]["delta"]["content"] if endpoint == "chat" else choice[0]["text"]
        assert got == text.decode()


@given(st.binary(max_size=300))
def test_http_chunk_framing_is_hex_length_crlf_payload_crlf(payload: bytes) -> None:
    framed = http_chunk(payload)
    head, _, rest = framed.partition(b"\r\n")
    assert int(head, 16) == len(payload)
    assert rest == payload + b"\r\n"


def test_error_event_and_done() -> None:
    event = _decode(error_event(ApiError(503, "gone", type_="server_error")))
    assert event == {
        "error": {"message": "gone", "type": "server_error", "param": None, "code": None}
    }
    assert DONE_EVENT == b"data: [DONE]\n\n"
