"""``POST /v1/chat/completions`` and ``POST /v1/completions``, streamed and not.

Output length: ``max_tokens`` (or ``max_completion_tokens``) with ``ignore_eos``, else a draw
from the preset's distribution capped by it; with no cap at all the room left in the context
(``max_model_len_tokens - prompt``) is the cap, as in vLLM. A request with ``seed`` gets the
same output length and text every time; without one they come from the app's seeded
generators, so a whole run is reproducible from ``StubConfig.seed``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from aiohttp import HttpVersion11, web

from target_stub.engine import Sequence
from target_stub.errors import bad_request, context_too_long
from target_stub.intake import check_model, read_body, request_id, service_of
from target_stub.protocol import ChatCompletionRequest, CompletionRequest, parse_body
from target_stub.service import StubService
from target_stub.sinks import CollectSink, Outcome, SseSink, replica_failed_error
from target_stub.sse import ChunkEncoder, Endpoint
from target_stub.text import chat_prompt_tokens, draw_output_tokens, text_tokens

_ID_PREFIX = {"chat": "chatcmpl-", "completions": "cmpl-"}


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated generation request, ready for an engine."""

    endpoint: Endpoint
    model: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: Literal["stop", "length"]
    charge_tokens: int
    stream: bool
    include_usage: bool
    text_offset: int


async def chat_completions(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    key = service.admission.authenticate(request.headers)
    raw = await read_body(request, service.config.max_body_bytes)
    body = parse_body(ChatCompletionRequest, raw)
    check_model(service, body.model, endpoint="chat completions", needs="text")
    prompt_tokens = chat_prompt_tokens(message.text() for message in body.messages)
    cap, cap_param = body.requested_max_tokens()
    plan = _plan(
        service,
        "chat",
        body=body,
        prompt_tokens=prompt_tokens,
        prompt_param="messages",
        cap=cap,
        cap_param=cap_param,
    )
    return await _serve(request, service, key, plan)


async def completions(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    key = service.admission.authenticate(request.headers)
    raw = await read_body(request, service.config.max_body_bytes)
    body = parse_body(CompletionRequest, raw)
    check_model(service, body.model, endpoint="completions", needs="text")
    prompt = body.prompt
    if isinstance(prompt, str):
        prompt_tokens = text_tokens(prompt)
    elif isinstance(prompt[0], str):
        prompt_tokens = text_tokens(prompt[0])
    elif isinstance(prompt[0], int):
        prompt_tokens = len(prompt)
    else:
        prompt_tokens = len(prompt[0])
    plan = _plan(
        service,
        "completions",
        body=body,
        prompt_tokens=prompt_tokens,
        prompt_param="prompt",
        cap=body.max_tokens,
        cap_param="max_tokens",
    )
    return await _serve(request, service, key, plan)


def _plan(
    service: StubService,
    endpoint: Endpoint,
    *,
    body: ChatCompletionRequest | CompletionRequest,
    prompt_tokens: int,
    prompt_param: str,
    cap: int | None,
    cap_param: str,
) -> Plan:
    engine_cfg = service.config.engine
    limit = engine_cfg.max_model_len_tokens
    # Even an empty prompt occupies one position (the BOS token).
    prompt_tokens = max(1, prompt_tokens)
    if cap is not None and cap < 1:
        raise bad_request(
            f"Invalid value for '{cap_param}': {cap}; it must be at least 1.", param=cap_param
        )
    if prompt_tokens + (cap or 1) > limit:
        raise context_too_long(
            max_model_len_tokens=limit,
            prompt_tokens=prompt_tokens,
            output_tokens=cap or 1,
            param=cap_param if cap is not None and prompt_tokens < limit else prompt_param,
        )
    room = cap if cap is not None else limit - prompt_tokens
    if body.seed is not None:
        length_rng = np.random.default_rng(abs(body.seed))
        offset = abs(body.seed) % len(service.text.tokens)
    else:
        length_rng = service.length_rng
        offset = service.text.start_offset()
    output_tokens = room if body.ignore_eos else draw_output_tokens(engine_cfg, length_rng, room)
    charge = prompt_tokens + (cap if cap is not None else round(engine_cfg.output_len_mean_tokens))
    return Plan(
        endpoint=endpoint,
        model=body.model,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        # Reaching the cap is "length" (also with ignore_eos); ending before it is "stop".
        finish_reason="length" if output_tokens >= room else "stop",
        charge_tokens=charge,
        stream=bool(body.stream),
        include_usage=body.include_usage,
        text_offset=offset,
    )


async def _serve(
    request: web.Request, service: StubService, key: str, plan: Plan
) -> web.StreamResponse:
    replica = service.pick()
    headers = service.admit(
        replica, key, prompt_tokens=plan.prompt_tokens, charge_tokens=plan.charge_tokens
    )
    rid = request_id(request, service)
    headers["x-request-id"] = rid
    completion_id = _ID_PREFIX[plan.endpoint] + rid
    created_s = int(time.time())
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Outcome] = loop.create_future()

    if plan.stream:
        resp = web.StreamResponse(headers=headers)
        resp.content_type = "text/event-stream"
        resp.headers["Cache-Control"] = "no-cache"
        # HTTP/1.0 has no chunked encoding: the body then ends when the connection closes.
        chunked = request.version >= HttpVersion11
        if chunked:
            resp.enable_chunked_encoding()
        await resp.prepare(request)  # a ConnectionError here ends quietly in the middleware
        transport = request.transport
        if transport is None or transport.is_closing():
            return resp
        encoder = ChunkEncoder(
            endpoint=plan.endpoint,
            request_id=completion_id,
            created_s=created_s,
            model=plan.model,
            include_usage=plan.include_usage,
        )
        sink: SseSink | CollectSink = SseSink(
            transport=transport,
            encoder=encoder,
            source=service.text,
            offset=plan.text_offset,
            interval_tokens=service.config.stream_interval_tokens,
            prompt_tokens=plan.prompt_tokens,
            chunked=chunked,
            replica=replica,
            done=done,
        )
    else:
        sink = CollectSink(transport=request.transport, replica=replica, done=done)
        sink.expect(1)

    seq = Sequence(
        prompt_tokens=plan.prompt_tokens,
        output_tokens=plan.output_tokens,
        sink=sink,
        finish_reason=plan.finish_reason,
    )
    replica.submit(seq)
    try:
        outcome = await done
    except asyncio.CancelledError:
        # The client went away while queued or prefilling (aiohttp cancels the handler, which
        # also cancels ``done``): free its place now rather than at its first token.
        replica.abort(seq)
        raise
    if plan.stream:
        return resp
    if outcome is None:
        return web.Response(status=400)  # nobody is listening any more
    if outcome == "abort":
        return replica_failed_error(replica).response(request_id=rid)
    text = service.text.text(plan.text_offset, seq.generated).decode()
    body = _completion_body(
        plan,
        completion_id=completion_id,
        created_s=created_s,
        text=text,
        reason=outcome,
        generated=seq.generated,
    )
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


def _completion_body(
    plan: Plan, *, completion_id: str, created_s: int, text: str, reason: str, generated: int
) -> dict[str, object]:
    choice: dict[str, object]
    if plan.endpoint == "chat":
        message: dict[str, object] = {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "tool_calls": [],
        }
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        obj = "text_completion"
    return {
        "id": completion_id,
        "object": obj,
        "created": created_s,
        "model": plan.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": plan.prompt_tokens,
            "completion_tokens": generated,
            "total_tokens": plan.prompt_tokens + generated,
        },
    }
