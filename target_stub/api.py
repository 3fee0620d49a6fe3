"""The OpenAI-compatible routes, the error middleware, and the small endpoints.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions`` (in ``generation``),
``POST /v1/embeddings``, ``POST /v1/images/generations``, ``GET /v1/models``,
``GET /v1/models/{model}``, ``GET /health``, ``GET /health/ready``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable

import numpy as np
from aiohttp import web

from target_stub.engine import Sequence
from target_stub.errors import ApiError, bad_request, context_too_long, payload_too_large
from target_stub.generation import chat_completions, completions
from target_stub.intake import check_model, read_body, request_id, service_of
from target_stub.png import gradient_png
from target_stub.protocol import EmbeddingRequest, ImageRequest, parse_body
from target_stub.replica import Replica
from target_stub.service import StubService
from target_stub.sinks import CollectSink, Outcome, replica_failed_error
from target_stub.text import text_tokens

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """OpenAI's error shape for every 4xx/5xx we or aiohttp raise; quiet client disconnects."""
    try:
        resp = await handler(request)
        if not resp.prepared and "x-request-id" not in resp.headers:
            resp.headers["x-request-id"] = request_id(request, service_of(request))
        return resp
    except ApiError as err:
        error = err
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 413:
            error = payload_too_large(service_of(request).config.max_body_bytes)
        else:
            message = f"{exc.reason}: {request.method} {request.path}"
            if isinstance(exc, web.HTTPMethodNotAllowed):
                allowed = ", ".join(sorted(exc.allowed_methods))
                message += f"; allowed methods: {allowed}"
            error = ApiError(exc.status, message, code=str(exc.status))
    except ConnectionError:
        # The client vanished mid-request; there is nobody to answer and nothing to report.
        logger.debug("client disconnected during %s %s", request.method, request.path)
        return web.Response(status=400)
    return error.response(request_id=request_id(request, service_of(request)))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/images/generations", images)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    app.router.add_get("/health", health)
    app.router.add_get("/health/ready", ready)


def _json(body: object, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


async def _run(
    request: web.Request,
    replica: Replica,
    seqs_of: Callable[[CollectSink], list[Sequence]],
) -> Outcome:
    """Submit sequences sharing one sink to ``replica`` and wait for all of them."""
    done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
    sink = CollectSink(transport=request.transport, replica=replica, done=done)
    seqs = seqs_of(sink)
    sink.expect(len(seqs))
    for seq in seqs:
        replica.submit(seq)
    try:
        return await done
    finally:
        for seq in seqs:  # no-op for finished ones; frees the rest when cancelled or aborted
            replica.abort(seq)


async def embeddings(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    key = service.admission.authenticate(request.headers)
    body = parse_body(EmbeddingRequest, await read_body(request, service.config.max_body_bytes))
    check_model(service, body.model, endpoint="embeddings", needs="text")
    counts = _input_tokens(body.input)
    limit = service.config.engine.max_model_len_tokens
    for index, count in enumerate(counts):
        if count == 0:
            raise bad_request(f"Invalid value for 'input': item {index} is empty.", param="input")
        if count > limit:
            raise context_too_long(
                max_model_len_tokens=limit, prompt_tokens=count, output_tokens=0, param="input"
            )
    replica = service.pick()
    headers = service.admit(replica, key, prompt_tokens=sum(counts), charge_tokens=sum(counts))
    headers["x-request-id"] = request_id(request, service)
    outcome = await _run(
        request,
        replica,
        lambda sink: [Sequence(count, 0, sink, kind="embedding") for count in counts],
    )
    if outcome is None:
        return web.Response(status=400)
    if outcome == "abort":
        return replica_failed_error(replica).response(request_id=headers["x-request-id"])
    dims = body.dimensions or service.config.embedding_dims
    vectors = service.vector_rng.standard_normal((len(counts), dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data: list[dict[str, object]] = []
    for index, vector in enumerate(vectors):
        embedding: object
        if body.encoding_format == "base64":
            embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode()
        else:
            embedding = vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    total = sum(counts)
    usage = {"prompt_tokens": total, "total_tokens": total}
    return _json(
        {"object": "list", "data": data, "model": service.model, "usage": usage},
        headers=headers,
    )


def _input_tokens(raw: str | list[str] | list[int] | list[list[int]]) -> list[int]:
    """Approximate tokens of each embedding input (a flat list of token ids is one input)."""
    if isinstance(raw, str):
        return [text_tokens(raw)]
    counts: list[int] = []
    for item in raw:
        if isinstance(item, int):
            return [len(raw)]
        counts.append(text_tokens(item) if isinstance(item, str) else len(item))
    return counts


async def images(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    key = service.admission.authenticate(request.headers)
    body = parse_body(ImageRequest, await read_body(request, service.config.max_body_bytes))
    check_model(service, body.model, endpoint="image generation", needs="image")
    n_images = body.n or 1
    prompt_tokens = max(1, text_tokens(body.prompt))
    limit = service.config.engine.max_model_len_tokens
    if prompt_tokens > limit:
        raise context_too_long(
            max_model_len_tokens=limit, prompt_tokens=prompt_tokens, output_tokens=0, param="prompt"
        )
    replica = service.pick()
    tokens = prompt_tokens * n_images
    headers = service.admit(replica, key, prompt_tokens=tokens, charge_tokens=tokens)
    headers["x-request-id"] = request_id(request, service)
    outcome = await _run(
        request,
        replica,
        lambda sink: [Sequence(prompt_tokens, 1, sink, kind="image") for _ in range(n_images)],
    )
    if outcome is None:
        return web.Response(status=400)
    if outcome == "abort":
        return replica_failed_error(replica).response(request_id=headers["x-request-id"])
    side_px = service.config.image_side_px
    data = [
        {
            "b64_json": base64.b64encode(gradient_png(service.image_rng, side_px)).decode(),
            "revised_prompt": body.prompt,
        }
        for _ in range(n_images)
    ]
    return _json({"created": int(time.time()), "data": data}, headers=headers)


def _model_card(service: StubService) -> dict[str, object]:
    return {
        "id": service.model,
        "object": "model",
        "created": service.created_s,
        "owned_by": "surgebench",
        "root": service.model,
        "parent": None,
        "max_model_len": service.config.engine.max_model_len_tokens,
    }


async def list_models(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    service.admission.authenticate(request.headers)
    return _json({"object": "list", "data": [_model_card(service)]})


async def get_model(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    service.admission.authenticate(request.headers)
    check_model(service, request.match_info["model"], endpoint="", needs=service.config.engine.kind)
    return _json(_model_card(service))


async def health(request: web.Request) -> web.StreamResponse:
    """200 (empty body, as vLLM) while some replica is not failed (a stalled replica counts:
    the hang a naive health check misses); 503 when all are failed or stopped."""
    if service_of(request).alive:
        return web.Response(status=200)
    return ApiError(
        503, "No engine replica is alive.", type_="server_error", code="no_replica"
    ).response()


async def ready(request: web.Request) -> web.StreamResponse:
    """200 while some replica is ready (routed to); 503 while none is (starting, failed)."""
    if service_of(request).ready:
        return _json({"status": "ready"})
    return ApiError(
        503, "No replica is ready.", type_="server_error", code="no_ready_replica"
    ).response()
