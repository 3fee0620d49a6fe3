"""The admin API and /metrics over real HTTP, on a small app built from their register
functions around a real fleet on the test's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from target_stub import admin, metrics
from target_stub.cluster import Fleet
from target_stub.engine_config import engine_preset
from target_stub.fault_injector import FaultInjector
from target_stub.fleet_config import FleetConfig
from target_stub.fleet_runtime import FleetRuntime
from tests.unit.fleet.recording import states

Client = TestClient[web.Request, web.Application]
TOKEN = "admin-test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MakeAdmin = Callable[..., Awaitable[tuple[Client, Fleet, FaultInjector]]]


@pytest.fixture
async def make_admin(aiohttp_client: AiohttpClient) -> AsyncIterator[MakeAdmin]:
    runtimes: list[FleetRuntime] = []

    async def make(
        *, token: str | None = TOKEN, replicas: int = 2
    ) -> tuple[Client, Fleet, FaultInjector]:
        runtime = FleetRuntime.start(
            engine_preset("tiny"),
            FleetConfig(replicas=replicas),
            loop=asyncio.get_running_loop(),
        )
        runtimes.append(runtime)
        app = web.Application()
        admin.register(app, lambda: runtime, token=token)
        metrics.register(app, lambda: runtime.metrics)
        return await aiohttp_client(app), runtime.fleet, runtime.faults

    yield make
    for runtime in runtimes:
        runtime.close()


async def test_without_a_token_the_admin_api_does_not_exist(make_admin: MakeAdmin) -> None:
    client, _, _ = await make_admin(token=None)
    for method, path in [("GET", "/admin/state"), ("POST", "/admin/replicas/0/kill")]:
        resp = await client.request(method, path, headers=AUTH)
        assert resp.status == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}],
)
async def test_missing_or_wrong_token_is_refused_and_changes_nothing(
    make_admin: MakeAdmin, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, fleet, faults = await make_admin()
    caplog.set_level(logging.INFO, logger="target_stub.admin")
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/admin/state", None),
        ("POST", "/admin/replicas/0/kill", {"mode": "drop", "restart_after_s": None}),
        ("POST", "/admin/faults", {"kind": "stall", "replica": 1}),
        ("POST", "/admin/scale", {"replicas": 5}),
        ("POST", "/admin/faults/clear", None),
        ("POST", "/admin/autoscaler", {"enabled": True}),
    ]
    for method, path, body in attempts:
        resp = await client.request(method, path, json=body, headers=headers)
        assert resp.status == 401, path
        error = (await resp.json())["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "invalid_admin_token"
    assert [r.state for r in fleet.replicas] == ["ready", "ready"]
    assert faults.faults == {} and not fleet.replicas[1].stalled
    assert not fleet.config.autoscaler.enabled
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(attempts)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_kill_and_restore_follow_the_profiles_contract(
    make_admin: MakeAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    client, fleet, _ = await make_admin()
    caplog.set_level(logging.INFO, logger="target_stub.admin")
    resp = await client.post(
        "/admin/replicas/1/kill", json={"mode": "drop", "restart_after_s": None}, headers=AUTH
    )
    assert resp.status == 200
    fault = await resp.json()
    assert fault["spec"]["kind"] == "kill" and fault["status"] == "active"
    assert fleet.replicas[1].state == "failed" and fleet.replicas[1].abort_mode == "drop"
    again = await client.post("/admin/replicas/1/kill", headers=AUTH)
    assert again.status == 409
    state = await (await client.get("/admin/state", headers=AUTH)).json()
    assert [r["state"] for r in state["replicas"]] == ["ready", "failed"]
    assert state["counts"]["failed"] == 1 and len(state["faults"]) == 1
    resp = await client.post("/admin/replicas/1/restore", headers=AUTH)
    assert (await resp.json()) == {"index": 1, "state": "ready", "cleared": 1}
    assert states(fleet) == ["ready", "ready"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("admin: kill replica /admin/replicas/1/kill -> 200" in m for m in messages)
    assert any("admin: restore replica /admin/replicas/1/restore -> 200" in m for m in messages)


async def test_kill_restarts_by_itself_after_the_delay(make_admin: MakeAdmin) -> None:
    client, fleet, _ = await make_admin()
    resp = await client.post(
        "/admin/replicas/0/kill", json={"mode": "error", "restart_after_s": 0.05}, headers=AUTH
    )
    assert resp.status == 200 and states(fleet)[0] == "failed"
    deadline = asyncio.get_running_loop().time() + 5.0
    while states(fleet)[0] != "ready":
        assert asyncio.get_running_loop().time() < deadline, "replica did not restart"
        await asyncio.sleep(0.01)


async def test_faults_can_be_added_listed_and_cleared(make_admin: MakeAdmin) -> None:
    client, fleet, _ = await make_admin()
    resp = await client.post(
        "/admin/faults", json={"kind": "slow", "replica": 0, "factor": 3}, headers=AUTH
    )
    assert resp.status == 201
    slow_id = (await resp.json())["id"]
    resp = await client.post(
        "/admin/faults", json={"kind": "stall", "replica": 1, "after_s": 60}, headers=AUTH
    )
    stall = await resp.json()
    assert stall["status"] == "scheduled" and not fleet.replicas[1].stalled
    listed = await (await client.get("/admin/faults", headers=AUTH)).json()
    assert [f["id"] for f in listed["faults"]] == [slow_id, stall["id"]]
    assert fleet.replicas[0].slow_factor == 3.0
    resp = await client.delete(f"/admin/faults/{slow_id}", headers=AUTH)
    assert resp.status == 200 and fleet.replicas[0].slow_factor == 1.0
    assert (await client.delete(f"/admin/faults/{slow_id}", headers=AUTH)).status == 404
    cleared = await (await client.post("/admin/faults/clear", headers=AUTH)).json()
    assert cleared == {"cleared": 1}


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/admin/faults", {"kind": "melt", "replica": 0}, 400, "kind"),
        ("/admin/faults", {"kind": "slow", "replica": 0}, 400, "factor"),
        ("/admin/faults", {"kind": "stall", "replica": 9}, 404, "Unknown replica 9"),
        ("/admin/replicas/7/kill", {}, 404, "Unknown replica 7"),
        ("/admin/replicas/x/kill", {}, 404, "index must be an integer"),
        ("/admin/replicas/0/kill", {"mode": "explode"}, 400, "mode"),
        ("/admin/scale", {"replicas": -1}, 400, "replicas"),
        ("/admin/autoscaler", {"min_replicas": 9, "max_replicas": 2}, 400, "min_replicas=9"),
        ("/admin/overload", {"max_waiting_requests": 1}, 404, "no overload settings"),
    ],
)
async def test_bad_admin_requests_name_the_problem(
    make_admin: MakeAdmin, path: str, body: dict[str, Any], status: int, needle: str
) -> None:
    client, fleet, faults = await make_admin()
    resp = await client.post(path, json=body, headers=AUTH)
    assert resp.status == status
    assert needle in (await resp.json())["error"]["message"]
    assert faults.faults == {} and fleet.count("ready") == 2


async def test_scale_and_autoscaler_settings(make_admin: MakeAdmin) -> None:
    client, fleet, _ = await make_admin(replicas=1)
    resp = await client.post("/admin/scale", json={"replicas": 3, "cold_start_s": 60}, headers=AUTH)
    assert (await resp.json())["counts"]["starting"] == 2
    resp = await client.post("/admin/scale", json={"replicas": 1}, headers=AUTH)
    assert (await resp.json())["counts"] == {
        "starting": 0,
        "ready": 1,
        "draining": 0,
        "failed": 0,
        "stopped": 2,
    }
    resp = await client.post(
        "/admin/autoscaler", json={"enabled": True, "max_replicas": 2}, headers=AUTH
    )
    config = (await resp.json())["autoscaler"]
    assert config["enabled"] and config["max_replicas"] == 2
    assert fleet.autoscaler.config.max_replicas == 2


async def test_metrics_parse_and_count_admin_faults(make_admin: MakeAdmin) -> None:
    client, _, _ = await make_admin()
    await client.post("/admin/replicas/0/kill", headers=AUTH)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == metrics.CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
    replicas = {s.labels["state"]: s.value for s in families["surgebench:replicas"].samples}
    assert replicas["failed"] == 1 and replicas["ready"] == 1
    applied = {s.labels["kind"]: s.value for s in families["surgebench:faults_applied"].samples}
    assert applied["kill"] == 1 and applied["stall"] == 0
