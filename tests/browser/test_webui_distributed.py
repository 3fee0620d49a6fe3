"""The LLM view on a distributed run (master + 2 workers): exact, complete, live.

Workers' request events never reach the master; the view ships raw samples inside the
workers' stats reports. Checked against the run's own request records: after the run, the
view on the master has seen every request and its run-wide percentiles equal numpy's over
the records (requests aborted by the stop itself excepted: they are recorded after the
workers' final report). Locust runs as a subprocess (``--processes 2 --autostart``)
against the stub. Budget: about 20 s.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from locustfiles.records import RequestRecord
from locustfiles.timing import e2e_s, ttft_s
from tests.browser.locust_ui import REPO_ROOT, running_locust_ui
from tests.stub_process import running_stub

pytestmark = pytest.mark.timeout(90)

ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"


def test_master_view_has_every_worker_request_with_exact_percentiles(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with (
        running_stub(("--preset", "tiny")) as stub,
        running_locust_ui(
            [REPO_ROOT / "locustfiles" / "chat.py"],
            [
                *("--processes", "2", "--autostart", "-u", "4", "-r", "4", "--run-time", "8s"),
                *("--host", stub.url, "--run-dir", str(run_dir), "--model", "tiny-llm"),
                *("--prompt-tokens", "fixed:32", "--output-tokens", "fixed:16"),
            ],
            log_path=ARTIFACTS / "locust-distributed.log",
            cwd=tmp_path,
        ) as ui,
    ):
        _poll(ui.url, _live, 30.0)
        for _ in range(3):  # Locust memoizes this response: the LLM rows must not pile up
            tabs = _get_json(f"{ui.url}/stats/requests")["extended_stats"]
            assert [t["key"] for t in tabs] == ["llm"]
            assert tabs[0]["data"][0]["metric"] == "TTFT (ms)"
        records = _wait_for_records_and_stop(ui.url, run_dir)
        done = _poll(ui.url, lambda body: _complete(body, records), 20.0)

    ok = [r for r in records if r.error_kind is None]
    summary = done["summary"]
    assert summary["totals"]["ok"] == len(ok)
    # A request the stop itself aborts is recorded after the worker's final stats report;
    # Locust's own master statistics miss it too. Every other failure is counted.
    failed = sum(summary["totals"][k] for k in ("error", "shed", "dropped"))
    assert failed <= len(records) - len(ok)
    assert summary["totals"]["output_tokens"] == sum(r.output_tokens for r in ok)
    for metric, values in (
        ("TTFT", [t * 1000.0 for r in ok if (t := ttft_s(r)) is not None]),
        ("E2E", [e2e_s(r) * 1000.0 for r in ok]),
    ):
        want = np.percentile(values, [50, 95, 99])
        got = [summary["run"][metric][f"p{q}_ms"] for q in (50, 95, 99)]
        assert got == pytest.approx(list(want), rel=1e-9), metric


def _live(body: dict[str, Any]) -> bool:
    """A point taken while users ran shows TTFT and tokens/s (live, not only at the end)."""
    return any(
        p["state"] in ("spawning", "running")
        and (p["ttft_p95_ms"] or 0) > 0
        and p["output_tps"] > 0
        for p in body["points"]
    )


def _complete(body: dict[str, Any], records: list[RequestRecord]) -> bool:
    totals = body["summary"].get("totals") if body["summary"] else None
    n_ok = sum(1 for r in records if r.error_kind is None)
    return body["state"] == "stopped" and totals is not None and totals["ok"] == n_ok


def _wait_for_records_and_stop(url: str, run_dir: Path) -> list[RequestRecord]:
    _poll(url, lambda body: body["state"] == "stopped", 30.0)
    # Workers flush their record files at stop; read once the line count stops growing.
    deadline = time.monotonic() + 10.0
    previous = -1
    while time.monotonic() < deadline:
        records = _read_records(run_dir)
        if records and len(records) == previous:
            return records
        previous = len(records)
        time.sleep(1.0)
    pytest.fail(f"request records in {run_dir} did not settle")


def _read_records(run_dir: Path) -> list[RequestRecord]:
    return [
        RequestRecord.from_dict(json.loads(line))
        for path in sorted((run_dir / "requests").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def _poll(url: str, until: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _get_json(f"{url}/llm/data?since=0")
        if until(body):
            return body
        time.sleep(0.5)
    pytest.fail(f"condition not reached within {timeout_s} s; last state {body.get('state')}")
