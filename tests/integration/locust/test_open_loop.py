"""Open loop: the achieved rate matches the target; a server stall shows in open-loop p99
(timed from the intended start) and hides in closed-loop p99 (coordinated omission)."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

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


STALL_AFTER_S = 3.0
STALL_S = 2.0


def _stalling_app() -> web.Application:
    """A tiny OpenAI-style streaming server that freezes every response once, for 2 s.

    The stall window opens 3 s after the first request; a response due to be written inside
    it waits until the window closes, as when an inference server's engine stops stepping.
    """
    state: dict[str, float] = {}

    async def wait_out_stall() -> None:
        start = state.setdefault("t0", time.monotonic()) + STALL_AFTER_S
        now = time.monotonic()
        if start <= now < start + STALL_S:
            await asyncio.sleep(start + STALL_S - now)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stall-llm"}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        await wait_out_stall()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(0.02)
        try:
            for word in (" a", " b", " c"):
                await wait_out_stall()
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                await asyncio.sleep(0.005)
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # Locust stopped its users mid-stream at the end of the run
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


Run = Callable[[list[str]], Awaitable[tuple[int, str]]]


async def _with_server(tmp_path: Path, name: str, args: list[str]) -> list[dict[str, Any]]:
    server = TestServer(_stalling_app(), host="127.0.0.1")
    await server.start_server()
    try:
        run_dir = tmp_path / name
        _, out = await run_locust_async(
            CHAT, str(server.make_url("")).rstrip("/"), run_dir, [*args, "-t", "10s"]
        )
    finally:
        await server.close()
    records = read_records(run_dir)
    assert records, out[-3000:]
    return records


async def test_a_stall_shows_in_open_loop_p99_and_hides_in_closed_loop(tmp_path: Path) -> None:
    common = ["--prompt-tokens", "fixed:8", "--output-tokens", "fixed:3"]
    open_loop, closed_loop = await asyncio.gather(
        _with_server(
            tmp_path, "open", ["-u", "1", "--arrival", "constant", "--rate", "40", *common]
        ),
        _with_server(tmp_path, "closed", ["-u", "4", "-r", "4", *common]),
    )
    open_e2e = [r["t_done_s"] - r["t_intended_s"] for r in completed(open_loop)]
    closed_e2e = [r["t_done_s"] - r["t_sent_s"] for r in completed(closed_loop)]
    # Open loop keeps sending during the stall: ~80 of ~400 requests wait up to 2 s.
    assert quantile(open_e2e, 0.99) > 1.0, quantile(open_e2e, 0.99)
    # Closed loop: only the 4 requests in flight wait; the users send nothing meanwhile, so
    # with more than 400 requests those 4 stay under the 1 % that p99 ignores.
    assert len(closed_e2e) > 450
    assert quantile(closed_e2e, 0.99) < 0.3, quantile(closed_e2e, 0.99)
    assert max(closed_e2e) > 1.5  # the stall did happen to the closed-loop run too
