"""OpenAI-shaped errors: one exception type that every handler raises and one renderer.

The body is always ``{"error": {"message", "type", "param", "code"}}`` (REFERENCE section 2).
Messages name the bad value and what is allowed; they never echo an API key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Literal

from aiohttp import web

OverloadKind = Literal["requests", "tokens"]

OVERLOADED_MESSAGE = "The engine is currently overloaded, please try again later"


class ApiError(Exception):
    """An error answered to the client in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type_ = type_
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, dict[str, object]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type_,
                "param": self.param,
                "code": self.code,
            }
        }

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()

    def response(self, *, request_id: str | None = None) -> web.Response:
        headers = dict(self.headers)
        if request_id is not None:
            headers["x-request-id"] = request_id
        return web.Response(
            status=self.status,
            body=self.body_bytes(),
            content_type="application/json",
            headers=headers,
        )


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def model_not_found(model: str, served: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist. This server serves `{served}`.",
        param="model",
        code="model_not_found",
    )


def context_too_long(
    *, max_model_len_tokens: int, prompt_tokens: int, output_tokens: int, param: str
) -> ApiError:
    # vLLM's wording, so clients that pattern-match on it keep working.
    return ApiError(
        400,
        f"This model's maximum context length is {max_model_len_tokens} tokens. However, you "
        f"requested {prompt_tokens + output_tokens} tokens ({prompt_tokens} in the messages, "
        f"{output_tokens} in the completion). Please reduce the length of the messages or "
        "completion.",
        param=param,
        code="context_length_exceeded",
    )


def unauthorized(*, provided: bool) -> ApiError:
    message = (
        "Incorrect API key provided."
        if provided
        else "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
    )
    return ApiError(401, message, code="invalid_api_key")


def retry_headers(retry_after_s: float) -> dict[str, str]:
    """``retry-after`` (whole seconds, at least 1, per RFC 9110) and ``retry-after-ms``."""
    return {
        "retry-after": str(max(1, math.ceil(retry_after_s))),
        "retry-after-ms": str(max(0, round(retry_after_s * 1000))),
    }


def rate_limited(
    message: str, *, kind: OverloadKind, retry_after_s: float, headers: Mapping[str, str]
) -> ApiError:
    return ApiError(
        429,
        message,
        type_=kind,
        code="rate_limit_exceeded",
        headers={**headers, **retry_headers(retry_after_s)},
    )


def overloaded(*, retry_after_s: float) -> ApiError:
    return ApiError(
        503,
        OVERLOADED_MESSAGE,
        type_="server_error",
        code="engine_overloaded",
        headers=retry_headers(retry_after_s),
    )


def payload_too_large(max_body_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"Request body is larger than the limit of {max_body_bytes} bytes.",
        code="payload_too_large",
    )
