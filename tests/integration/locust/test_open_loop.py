"""Open loop: the achieved rate matches the target; a 2 s stall of the real stub shows in
open-loop p99 (timed from the intended start) and hides in closed-loop p99 (coordinated
omission)."""

from __future__ import annotations

import asyncio
import csv
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.locust.locust_run import (
    CHAT,
    completed,
    quantile,
    read_manifest,
    read_records,
    run_locust,
    run_locust_async,
    stub,
)

RATE_RPS = 40.0


def test_constant_arrivals_achieve_the_target_rate(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with stub(["--preset", "tiny", "--fixed-ttft-ms", "20", "--fixed-itl-ms", "5"]) as server:
        result = run_locust(
            CHAT,
            server.url,
            run_dir,
            [
                "-u",
                "1",
                "-t",
                "11s",
                "--arrival",
                "constant",
                "--rate",
                str(RATE_RPS),
                "--prompt-tokens",
                "fixed:16",
                "--output-tokens",
                "fixed:4",
                "--ignore-eos",
            ],
        )
    records = read_records(run_dir)
    assert records, result.stderr[-3000:]
    window = (2.0, 10.0)
    sent = [r for r in records if window[0] <= r["t_sent_s"] < window[1]]
    achieved_rps = len(sent) / (window[1] - window[0])
    lags_ms = [(r["t_sent_s"] - r["t_intended_s"]) * 1000 for r in sent]
    detail = f"achieved {achieved_rps:.2f} req/s; lag max {max(lags_ms, default=0):.1f} ms"
    assert abs(achieved_rps - RATE_RPS) <= 0.02 * RATE_RPS, detail
    assert all(r["user_class"] == "open_loop" and r["t_intended_s"] is not None for r in records)
    assert min(lags_ms) >= 0 and quantile(lags_ms, 0.99) < 50, detail
    assert all(r["error_kind"] is None for r in sent)
    manifest = read_manifest(run_dir)
    assert manifest["finished_at"] is not None
    assert manifest["workload"]["arrival"] == "constant"
    assert manifest["loadgen"]["schedule_lag_p99_ms"] is not None
    assert manifest["validity"]["client_limited"] is False, manifest["validity"]
    with (run_dir / "offered.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 7
    assert {row["target_rps"] for row in rows} == {"40"}


RUN_S = 10
WARMUP_S = 2.5  # of traffic before the stall, so it lands mid-run with ~5 s left after it
STALL_S = 2.0
TOKEN_ENV = "SURGEBENCH_TEST_ADMIN_TOKEN"
# Exact timing, no batching model: without the stall every request takes ~35 ms.
STALL_STUB = ["--preset", "tiny", "--fixed-ttft-ms", "20", "--fixed-itl-ms", "5"]


@dataclass(frozen=True)
class StalledRun:
    records: list[dict[str, Any]]
    stall_began_s: tuple[float, float]
    """The stall began within this interval of the run's clock (seconds since the manifest's
    ``t0_epoch_s``): from just before the admin POST to its answer."""
    stalls_applied: float
    """The stub's ``surgebench:faults_applied_total{kind="stall"}`` after the run."""


async def _admin(
    session: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    async with session.request(method, url, json=body) as resp:
        assert resp.status in (200, 201), (resp.status, await resp.text())
        data = await resp.json()
    assert isinstance(data, dict)
    return data


async def _stall_once_sending(session: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    """Wait until Locust's requests reach the stub, let them run WARMUP_S, then stall
    replica 0 for STALL_S through the admin API; return the epoch interval around the POST."""
    deadline_s = time.monotonic() + 30.0  # Locust's start-up on a busy 2-core box
    while (await _admin(session, "GET", f"{url}/admin/state"))["replicas"][0]["routed_total"] < 1:
        assert time.monotonic() < deadline_s, "no request reached the stub within 30 s"
        await asyncio.sleep(0.05)
    await asyncio.sleep(WARMUP_S)
    before_s = time.time()
    fault = await _admin(
        session,
        "POST",
        f"{url}/admin/faults",
        {"kind": "stall", "replica": 0, "duration_s": STALL_S},
    )
    after_s = time.time()
    assert fault["status"] == "active", fault
    state = await _admin(session, "GET", f"{url}/admin/state")
    assert state["replicas"][0]["stalled"] is True, state["replicas"][0]
    return before_s, after_s


async def _run_with_stall(tmp_path: Path, name: str, args: list[str]) -> StalledRun:
    token = secrets.token_hex(16)
    run_dir = tmp_path / name
    with stub([*STALL_STUB, "--admin-token-env", TOKEN_ENV], env={TOKEN_ENV: token}) as server:
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            locust = asyncio.create_task(
                run_locust_async(CHAT, server.url, run_dir, [*args, "-t", f"{RUN_S}s"])
            )
            try:
                before_s, after_s = await _stall_once_sending(session, server.url)
            except BaseException:
                await locust  # never leave Locust running; its own timeout bounds this
                raise
            _, out = await locust
            state = await _admin(session, "GET", f"{server.url}/admin/state")
            assert state["faults"] == [] and state["replicas"][0]["stalled"] is False, state
            async with session.get(f"{server.url}/metrics") as resp:
                metrics = await resp.text()
    applied = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "surgebench:faults_applied_total" and sample.labels["kind"] == "stall"
    ]
    records = read_records(run_dir)
    assert records, out[-3000:]
    t0_epoch_s = read_manifest(run_dir)["t0_epoch_s"]
    # The POST returned with the stall active: it began between these two instants.
    assert after_s - before_s < 0.5, after_s - before_s
    return StalledRun(records, (before_s - t0_epoch_s, after_s - t0_epoch_s), sum(applied))


async def test_a_stall_shows_in_open_loop_p99_and_hides_in_closed_loop(tmp_path: Path) -> None:
    common = ["--prompt-tokens", "fixed:8", "--output-tokens", "fixed:3"]
    open_run, closed_run = await asyncio.gather(
        _run_with_stall(
            tmp_path, "open", ["-u", "1", "--arrival", "constant", "--rate", "40", *common]
        ),
        _run_with_stall(tmp_path, "closed", ["-u", "4", "-r", "4", *common]),
    )
    # The stub itself applied exactly one stall in each run (and it ended before the run did).
    assert open_run.stalls_applied == 1 and closed_run.stalls_applied == 1
    open_done = completed(open_run.records)
    closed_done = completed(closed_run.records)
    open_e2e = [r["t_done_s"] - r["t_intended_s"] for r in open_done]
    closed_e2e = [r["t_done_s"] - r["t_sent_s"] for r in closed_done]
    # Open loop keeps sending during the stall: ~80 of ~400 requests wait up to 2 s.
    assert quantile(open_e2e, 0.99) > 1.0, quantile(open_e2e, 0.99)
    # Closed loop: only the 4 requests in flight wait; the users send nothing meanwhile, so
    # with more than 450 requests those 4 stay under the 1 % that p99 ignores.
    assert len(closed_e2e) > 450, len(closed_e2e)
    assert quantile(closed_e2e, 0.99) < 0.3, quantile(closed_e2e, 0.99)
    assert max(closed_e2e) > 1.5, max(closed_e2e)  # the stall did happen to the closed loop
    # And the slow requests are the ones the stall we triggered caught, not something else:
    # open loop, intended inside the window; closed loop, in flight when it began.
    margin_s = 0.25
    first_s, last_s = open_run.stall_began_s
    slow_intended = [r["t_intended_s"] for r in open_done if r["t_done_s"] - r["t_intended_s"] > 1]
    assert slow_intended, "no open-loop request waited over 1 s"
    assert all(first_s - margin_s <= t < last_s + STALL_S for t in slow_intended), (
        open_run.stall_began_s,
        slow_intended,
    )
    first_s, last_s = closed_run.stall_began_s
    slow_sent = [r["t_sent_s"] for r in closed_done if r["t_done_s"] - r["t_sent_s"] > 1]
    assert 1 <= len(slow_sent) <= 4, slow_sent
    assert all(first_s - margin_s <= t <= last_s + margin_s for t in slow_sent), (
        closed_run.stall_began_s,
        slow_sent,
    )
