"""The token-guarded admin API under ``/admin/``: fleet state, faults, scaling, overload.

Enabled only when a token is configured (the CLI reads it from the environment variable
named by ``--admin-token-env``); otherwise no ``/admin/`` route exists and every admin URL
answers 404. Each request must carry ``Authorization: Bearer <token>``; a missing or wrong
token gets 401 and changes nothing. The comparison is constant-time. Every action, refused
ones included, is logged (never the token).

Routes (JSON bodies; an empty body means the defaults):

``GET    /admin/state``                      fleet, replicas, autoscaler, faults, overload
``GET    /admin/faults``                     every scheduled or active fault
``POST   /admin/faults``                     a fault spec (``target_stub.faults``) -> 201
``DELETE /admin/faults/{id}``                clear one fault
``POST   /admin/faults/clear``               clear every fault
``POST   /admin/replicas/{index}/kill``      ``{"mode": "error"|"drop", "restart_after_s",
                                             "cold_start_s"}``
``POST   /admin/replicas/{index}/restore``   clear the replica's faults, restart it if failed
                                             (``{"cold_start_s": 0}``)
``POST   /admin/scale``                      ``{"replicas": N, "cold_start_s": null}``
``POST   /admin/autoscaler``                 any ``AutoscalerConfig`` fields to change
``GET    /admin/overload``, ``POST /admin/overload``   the HTTP layer's queue bounds
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from target_stub.autoscaler import AutoscalerConfig
from target_stub.cluster import Fleet, ReplicaIndexError
from target_stub.errors import ApiError
from target_stub.fault_injector import FaultInjector
from target_stub.faults import FAULT_SPEC_ADAPTER, KillFault
from target_stub.fleet_runtime import FleetRuntime
from target_stub.replica import REPLICA_STATES, KillMode

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]


class OverloadControl(Protocol):
    """The HTTP layer's overload settings, readable and changeable at runtime
    (:class:`target_stub.admission.Admission`)."""

    def overload_settings(self) -> dict[str, Any]: ...
    def update_overload(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``changes``; ValueError naming the bad field leaves everything unchanged."""


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KillBody(_Body):
    mode: KillMode = "error"
    restart_after_s: float | None = Field(None, ge=0)
    cold_start_s: float = Field(0.0, ge=0)


class RestoreBody(_Body):
    cold_start_s: float = Field(0.0, ge=0)


class ScaleBody(_Body):
    replicas: int = Field(ge=0, le=256)
    cold_start_s: float | None = Field(None, ge=0)


def fleet_state(fleet: Fleet, faults: FaultInjector) -> dict[str, Any]:
    """A JSON-ready snapshot of the fleet (``GET /admin/state``); times in seconds since
    the fleet started."""
    now = fleet.loop.time()
    replicas = [
        {
            "index": r.index,
            "name": r.name,
            "state": r.state,
            "outstanding": r.outstanding,
            "running": r.engine.num_running,
            "waiting": r.engine.num_waiting,
            "kv_usage_frac": r.engine.kv_usage_frac,
            "kv_capacity_frac": r.kv_capacity_frac,
            "slow_factor": r.slow_factor,
            "stalled": r.stalled,
            "abort_mode": r.abort_mode,
            "ready_in_s": None if r.ready_at_s is None else round(max(0.0, r.ready_at_s - now), 3),
            "routed_total": r.routed_total,
        }
        for r in fleet.replicas
    ]
    scaler = fleet.autoscaler
    return {
        "model": fleet.engine_config.model,
        "t_s": round(now - fleet.started_s, 3),
        "router": fleet.router.name,
        "live": fleet.live,
        "ready": fleet.ready,
        "counts": {state: fleet.count(state) for state in REPLICA_STATES},
        "replicas": replicas,
        "rejections": dict(fleet.rejections),
        "autoscaler": {
            "config": scaler.config.model_dump(),
            "decisions_total": [
                {"action": a, "reason": r, "count": n}
                for (a, r), n in sorted(scaler.decisions_total.items())
            ],
            "recent": [
                {
                    "t_s": round(d.t_s - fleet.started_s, 3),
                    "action": d.action,
                    "reason": d.reason,
                    "detail": d.detail,
                    "replicas_before": d.replicas_before,
                }
                for d in scaler.recent
            ],
        },
        "faults": [f.to_json() for f in faults.faults.values()],
    }


class _AdminRoutes:
    def __init__(
        self,
        runtime_of: Callable[[], FleetRuntime],
        token: str,
        overload: OverloadControl | None,
    ) -> None:
        self._runtime_of = runtime_of
        self._token = token.encode()
        self.overload = overload

    @property
    def fleet(self) -> Fleet:
        return self._runtime_of().fleet

    @property
    def faults(self) -> FaultInjector:
        return self._runtime_of().faults

    def guard(self, action: str, handler: Handler) -> Handler:
        """Check the token before anything else, map errors to OpenAI's shape, log."""

        async def guarded(request: web.Request) -> web.Response:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            presented = given.strip().encode() if scheme.lower() == "bearer" else b""
            if not hmac.compare_digest(presented, self._token):
                why = "wrong" if presented else "missing"
                logger.warning("admin: refused %s %s (%s token)", request.method, request.path, why)
                return ApiError(
                    401,
                    f"Admin API: {why} token; send 'Authorization: Bearer <admin token>'.",
                    code="invalid_admin_token",
                    headers={"WWW-Authenticate": "Bearer"},
                ).response()
            try:
                response = await handler(request)
            except ApiError as err:
                response = err.response()
            except ReplicaIndexError as exc:
                response = ApiError(exc.status, str(exc), code="replica_unavailable").response()
            except ValidationError as exc:
                response = _invalid(exc).response()
            except ValueError as exc:
                response = ApiError(400, str(exc)).response()
            level = logging.INFO if response.status < 400 else logging.WARNING
            logger.log(level, "admin: %s %s -> %d", action, request.path, response.status)
            return response

        return guarded

    async def state(self, request: web.Request) -> web.Response:
        body = fleet_state(self.fleet, self.faults)
        body["overload"] = self.overload.overload_settings() if self.overload is not None else None
        return _json(body)

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": [f.to_json() for f in self.faults.faults.values()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        spec = FAULT_SPEC_ADAPTER.validate_json(await _raw(request))
        fault = self.faults.apply(spec)
        return _json(fault.to_json(), status=201)

    async def delete_fault(self, request: web.Request) -> web.Response:
        fault_id = _int_param(request, "id")
        try:
            fault = self.faults.clear(fault_id)
        except KeyError:
            known = ", ".join(str(i) for i in self.faults.faults) or "none"
            raise ApiError(404, f"Unknown fault {fault_id}; active: {known}") from None
        return _json({"cleared": fault.to_json()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        return _json({"cleared": self.faults.clear_all()})

    async def kill(self, request: web.Request) -> web.Response:
        index = _int_param(request, "index")
        body = KillBody.model_validate_json(await _raw(request))
        fault = self.faults.apply(
            KillFault(
                replica=index,
                mode=body.mode,
                restart_after_s=body.restart_after_s,
                cold_start_s=body.cold_start_s,
            )
        )
        return _json(fault.to_json())

    async def restore(self, request: web.Request) -> web.Response:
        index = _int_param(request, "index")
        body = RestoreBody.model_validate_json(await _raw(request))
        cleared = self.faults.restore(index, cold_start_s=body.cold_start_s)
        replica = self.fleet.replica(index)
        return _json({"index": index, "state": replica.state, "cleared": len(cleared)})

    async def scale(self, request: web.Request) -> web.Response:
        body = ScaleBody.model_validate_json(await _raw(request))
        self.fleet.scale_to(body.replicas, cold_start_s=body.cold_start_s)
        return _json({"counts": {s: self.fleet.count(s) for s in REPLICA_STATES}})

    async def autoscaler(self, request: web.Request) -> web.Response:
        changes = _object(await _raw(request))
        merged = {**self.fleet.config.autoscaler.model_dump(), **changes}
        config = AutoscalerConfig.model_validate(merged)
        self.fleet.configure_autoscaler(config)
        return _json({"autoscaler": config.model_dump()})

    async def get_overload(self, request: web.Request) -> web.Response:
        return _json({"overload": self._overload().overload_settings()})

    async def set_overload(self, request: web.Request) -> web.Response:
        changes = _object(await _raw(request))
        return _json({"overload": self._overload().update_overload(changes)})

    def _overload(self) -> OverloadControl:
        if self.overload is None:
            raise ApiError(404, "This stub has no overload settings to change.")
        return self.overload


def register(
    app: web.Application,
    runtime_of: Callable[[], FleetRuntime],
    *,
    token: str | None,
    overload: OverloadControl | None = None,
) -> bool:
    """Add the admin routes when ``token`` is set; returns whether they were added.
    ``runtime_of`` returns the running fleet (it starts with the app's loop)."""
    if not token:
        logger.debug("admin API disabled (no admin token configured)")
        return False
    routes = _AdminRoutes(runtime_of, token, overload)
    g = routes.guard
    add = app.router
    add.add_get("/admin/state", g("state", routes.state))
    add.add_get("/admin/faults", g("list faults", routes.list_faults))
    add.add_post("/admin/faults", g("add fault", routes.add_fault))
    add.add_post("/admin/faults/clear", g("clear faults", routes.clear_faults))
    add.add_delete("/admin/faults/{id}", g("clear fault", routes.delete_fault))
    add.add_post("/admin/replicas/{index}/kill", g("kill replica", routes.kill))
    add.add_post("/admin/replicas/{index}/restore", g("restore replica", routes.restore))
    add.add_post("/admin/scale", g("scale", routes.scale))
    add.add_post("/admin/autoscaler", g("autoscaler", routes.autoscaler))
    add.add_get("/admin/overload", g("overload", routes.get_overload))
    add.add_post("/admin/overload", g("set overload", routes.set_overload))
    logger.debug("admin API enabled under /admin/")
    return True


async def _raw(request: web.Request) -> bytes:
    raw = await request.read()
    return raw if raw.strip() else b"{}"


def _object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    return value


def _int_param(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    try:
        return int(value)
    except ValueError:
        raise ApiError(404, f"{name} must be an integer; got {value!r}") from None


def _invalid(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(400, f"Invalid value for '{where}': {first['msg']}", param=where)


def _json(body: object, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
    )
