"""Hypothesis strategies for what OpenAI-compatible servers stream (shared by the fast-path
tests): chunk JSON with every kind of delta, JSON split across lines, and data values that
are not chunks at all."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Any text, including what JSON must escape (quotes, backslashes, control characters, line
# breaks) and characters beyond the BMP; no lone surrogates (not encodable as UTF-8).
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=24)
LINE_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=24
)


# --- what servers send ------------------------------------------------------------------


def chat(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


@st.composite
def openai_objects(draw: st.DrawFn) -> dict[str, Any]:
    """One chat or completion stream chunk of every kind an OpenAI-compatible server sends."""
    text = draw(TEXT)
    kind = draw(
        st.sampled_from(
            [
                "content", "content", "role", "reasoning", "reasoning_content", "tools",
                "finish", "usage", "usage_with_content", "error", "text_completion",
            ]
        )
    )  # fmt: skip
    tokens = draw(st.integers(0, 10**6))
    usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": tokens + 7}
    if kind == "content":
        return chat({"content": text})
    if kind == "role":
        return chat({"role": "assistant", "content": ""})
    if kind in ("reasoning", "reasoning_content"):
        return chat({kind: text})
    if kind == "tools":
        function = {"name": "lookup", "arguments": text}
        return chat({"tool_calls": [{"index": 0, "id": "call_1", "function": function}]})
    if kind == "finish":
        return chat({}, "stop")
    if kind == "usage":
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": usage,
        }
    if kind == "usage_with_content":
        return chat({"content": text}, usage=usage)
    if kind == "error":
        return {"error": {"message": text, "type": "server_error", "code": draw(st.none() | TEXT)}}
    return {"object": "text_completion", "choices": [{"index": 0, "text": text}]}


@st.composite
def openai_json(draw: st.DrawFn) -> bytes:
    obj = draw(openai_objects())
    compact = draw(st.booleans())
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(obj, ensure_ascii=draw(st.booleans()), separators=separators).encode()


@st.composite
def split_json(draw: st.DrawFn) -> bytes:
    """A chunk's JSON with one space between tokens turned into a line break.

    JSON takes the break as whitespace, SSE as the end of the line: a shortcut that misses a
    line break reads a valid chunk where the decoder sees a broken event or a second line.
    """
    obj = draw(openai_objects())
    raw = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()
    spaces = [i for i in range(len(raw)) if raw[i : i + 1] == b" " and raw[i - 1 : i] in b",:"]
    if not spaces:
        return raw
    at = draw(st.sampled_from(spaces))
    brk = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b"\ndata: ", b"\rdata:", b"\n: c\n"]))
    return raw[:at] + brk + raw[at + 1 :]


JSON_NON_OBJECTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
).map(lambda v: json.dumps(v).encode())

DATA_VALUES = st.one_of(
    openai_json(),
    openai_json(),
    split_json(),
    st.just(b"[DONE]"),
    st.sampled_from([b"[DONE] ", b"[done]", b"", b"{", b"{}", b"{} ", b'{"a":1e999}', b"null"]),
    JSON_NON_OBJECTS,
    TEXT.map(lambda s: s.encode()),
    openai_json().map(lambda b: b[:-1] + b"\xff}"),  # invalid UTF-8 inside the JSON
    st.binary(max_size=24),
)
