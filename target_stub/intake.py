"""The first steps of every API request: key, body, model and request id.

Reading the body raises an ``ApiError`` (413 for an oversized body, 400 for a malformed one)
or, when the client vanished, ``ConnectionError``, which the API's middleware ends quietly.
"""

from __future__ import annotations

import re
from typing import Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from target_stub.errors import ApiError, bad_request, model_not_found, payload_too_large
from target_stub.service import StubService

SERVICE_KEY = web.AppKey("surgebench_stub_service", StubService)

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def service_of(request: web.Request) -> StubService:
    return request.app[SERVICE_KEY]


def request_id(request: web.Request, service: StubService) -> str:
    """The client's ``x-request-id`` when it is a sane token (as vLLM echoes it), else a new one."""
    given = request.headers.get("x-request-id")
    if given is not None and _CLIENT_REQUEST_ID.match(given):
        return given
    return service.new_id()


async def read_body(request: web.Request, max_body_bytes: int) -> bytes:
    """The raw body; 413 beyond ``max_body_bytes``, 400 if the framing is broken."""
    length = request.content_length
    if length is not None and length > max_body_bytes:
        raise payload_too_large(max_body_bytes)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise payload_too_large(max_body_bytes) from None
    except HttpProcessingError as exc:
        raise bad_request(f"Malformed request body: {exc.message}") from None


def check_model(
    service: StubService,
    model: str | None,
    *,
    endpoint: str,
    needs: Literal["text", "image"],
) -> None:
    """404 for a model this server does not serve; 400 when the endpoint does not fit it."""
    served = service.model
    if model is not None and model != served:
        raise model_not_found(model, served)
    kind = service.config.engine.kind
    if kind != needs:
        hint = (
            "use /v1/images/generations"
            if kind == "image"
            else "start the stub with an image preset (e.g. --preset h100-sdxl)"
        )
        raise ApiError(
            400,
            f"The model `{served}` is a {kind} model and does not support {endpoint}; {hint}.",
            param="model",
            code="unsupported_model",
        )
