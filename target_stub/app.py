"""``create_app(config)``: the stub as an aiohttp application.

The replica fleet (engines, router, autoscaler, start faults, metrics) starts on the running
loop in a ``cleanup_ctx`` and is closed on shutdown. Routes: the OpenAI API (``api``),
``GET /metrics`` (``metrics``) and, when an admin token is configured, ``/admin/``
(``admin``; 404 otherwise). Run it with ``handler_cancellation=True`` (``python -m
target_stub`` does) so that a client leaving while its request is still queued frees its
place at once; without it the request is freed at its first token instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Collection

from aiohttp import web

from target_stub import admin, metrics
from target_stub.api import add_routes, error_middleware
from target_stub.config import StubConfig, resolve_admin_token, resolve_api_keys
from target_stub.intake import SERVICE_KEY
from target_stub.service import StubService


def create_app(
    config: StubConfig,
    *,
    api_keys: Collection[str] | None = None,
    admin_token: str | None = None,
) -> web.Application:
    """The stub's application. ``api_keys`` and ``admin_token`` override reading
    ``config.api_key_env`` and ``config.admin_token_env``."""
    # The app is an entry point of its own (tests, embedding); the CLI passes these in.
    if api_keys is None and config.api_key_env is not None:
        api_keys = resolve_api_keys(config, os.environ)
    if admin_token is None and config.admin_token_env is not None:
        admin_token = resolve_admin_token(config, os.environ)
    service = StubService(config, api_keys=api_keys)
    app = web.Application(middlewares=[error_middleware], client_max_size=config.max_body_bytes)
    app[SERVICE_KEY] = service
    add_routes(app)
    metrics.register(app, lambda: service.runtime.metrics)
    admin.register(app, lambda: service.runtime, token=admin_token, overload=service.admission)
    app.cleanup_ctx.append(_replicas)
    return app


async def _replicas(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE_KEY]
    service.start(asyncio.get_running_loop())
    yield
    service.close()
