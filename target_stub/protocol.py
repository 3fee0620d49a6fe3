"""Request bodies of the OpenAI endpoints as strict pydantic models, and their parsing.

Strict mode: a JSON string where a number is expected is a 400, as with OpenAI, rather than
coerced. Unknown fields are ignored (like vLLM), so clients sending newer parameters keep
working. ``parse_body`` turns every parse or validation failure into a 400 ``ApiError`` that
names the offending field.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from target_stub.errors import ApiError, bad_request

_MAX_INPUT_REPR_CHARS = 60


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content)


class StreamOptions(_Body):
    include_usage: bool | None = False
    continuous_usage_stats: bool | None = False


PositiveInt = Annotated[int, Field(ge=1)]
Stop = str | list[str] | None


class _Generation(_Body):
    model: str
    max_tokens: int | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    seed: int | None = None
    stop: Stop = None
    n: Annotated[int, Field(ge=1, le=1)] | None = 1

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_Generation):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: int | None = None

    def requested_max_tokens(self) -> tuple[int | None, str]:
        """The output cap and the parameter it came from (max_completion_tokens wins)."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens, "max_completion_tokens"
        return self.max_tokens, "max_tokens"


TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CompletionRequest(_Generation):
    prompt: (
        str
        | Annotated[list[str], Field(min_length=1, max_length=1)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=1)]
    )
    # OpenAI's legacy completions endpoint defaults to 16 output tokens.
    max_tokens: int | None = 16
    echo: bool | None = False


class EmbeddingRequest(_Body):
    model: str
    input: (
        str
        | Annotated[list[str], Field(min_length=1, max_length=2048)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=2048)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1, le=8192)] | None = None


class ImageRequest(_Body):
    prompt: Annotated[str, Field(min_length=1)]
    model: str | None = None
    n: Annotated[int, Field(ge=1, le=10)] | None = 1
    size: Annotated[str, Field(pattern=r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$")] | None = None
    response_format: Literal["b64_json"] | None = None


BodyT = TypeVar("BodyT", bound=_Body)


def parse_body(model: type[BodyT], raw: bytes) -> BodyT:
    """Validate ``raw`` JSON into ``model`` or raise a 400 naming the first bad field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _to_api_error(exc.errors(include_url=False)) from None


def _to_api_error(errors: list[ErrorDetails]) -> ApiError:
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        return bad_request(f"Request body is not valid JSON: {ctx.get('error', first['msg'])}")
    if kind in {"model_type", "model_attributes_type"} and not first["loc"]:
        return bad_request("Request body must be a JSON object.")
    loc = [str(part) for part in first["loc"]]
    got = repr(first.get("input"))
    if len(got) > _MAX_INPUT_REPR_CHARS:
        got = got[:_MAX_INPUT_REPR_CHARS] + "..."
    # A union that matched no member reports one error per member, tagged with the member's
    # type name ("prompt.str"); report the field and its allowed forms instead.
    tag_at = next((i for i, part in enumerate(loc) if _is_union_tag(part)), None)
    if tag_at is not None:
        field = ".".join(loc[:tag_at])
        forms = _UNION_FORMS.get(loc[tag_at - 1] if tag_at else "", "one of the documented forms")
        return bad_request(f"Invalid value for '{field}': expected {forms}.", param=field)
    param = ".".join(loc) or None
    if kind == "missing":
        return bad_request(f"Missing required parameter '{param}'.", param=param)
    if param == "n":
        return bad_request(f"Invalid value for 'n': {got}; only n=1 is supported.", param="n")
    return bad_request(f"Invalid value for '{param}': {first['msg']} (got {got}).", param=param)


_UNION_FORMS = {
    "prompt": "a string, a one-element list of strings, a list of token ids, or a one-element "
    "list of token-id lists",
    "input": "a string, a list of strings, a list of token ids, or a list of token-id lists",
    "content": "a string, a list of content parts, or null",
    "stop": "a string, a list of strings, or null",
}


def _is_union_tag(part: str) -> bool:
    return "[" in part or part in {"str", "int", "float", "bool", "none"}
