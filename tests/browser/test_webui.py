"""The Locust web UI, driven as a person would: start form -> live LLM view -> capacity report.

Real parts only: the stub (API key required) and Locust (``locustfiles/chat.py`` plus every
profile in ``profiles/``, ``--class-picker``) as subprocesses on loopback, Debian's Chromium
through Playwright. Screenshots go to ``test-artifacts/browser/``; with
``SURGEBENCH_UPDATE_DOC_IMAGES=1`` the start form and the LLM view are also copied to
``docs/img/`` for docs/webui.md. Budget: about 40 s, hard limit 90 s.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from locustfiles.records import RequestRecord
from locustfiles.timing import ttft_s
from profiles.registry import BUILDERS
from tests.browser.chromium import chromium_context
from tests.browser.locust_ui import REPO_ROOT, LocustUi, running_locust_ui
from tests.stub_process import running_stub

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
DOC_IMAGES = REPO_ROOT / "docs" / "img"
KEY_ENV = "SURGEBENCH_BROWSER_TEST_KEY"
ENTRY_FILES = (REPO_ROOT / "locustfiles" / "chat.py", REPO_ROOT / "profiles")
# The LLM options the start form must offer (label = Locust's title-cased option name).
LLM_FIELDS = {
    "Model": "tiny-llm",
    "Prompt Tokens": "fixed:48",
    "Output Tokens": "fixed:24",
    "Slo Ttft Ms": "2000",
    "Slo Tpot Ms": "200",
    "Api Key Env": KEY_ENV,
}


def test_start_form_live_llm_view_and_capacity_report(tmp_path: Path) -> None:
    key = secrets.token_hex(16)
    run_dir = tmp_path / "run"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (
        running_stub(("--preset", "tiny", "--api-key-env", KEY_ENV), env={KEY_ENV: key}) as stub,
        running_locust_ui(
            ENTRY_FILES,
            ["--class-picker", "--host", stub.url],
            log_path=ARTIFACTS / "locust.log",
            cwd=tmp_path,
            env={KEY_ENV: key},
        ) as ui,
        chromium_context() as context,
    ):
        page = context.new_page()
        page.goto(f"{ui.url}/")
        _fill_start_form(page, run_dir)
        _shot(page, "webui-start-form.png", doc=True)
        page.get_by_role("button", name="Start", exact=True).click()

        page.get_by_role("tab", name="LLM").click()
        expect(page.get_by_role("cell", name="TTFT (ms)")).to_be_visible(timeout=20_000)
        _shot(page, "webui-llm-tab.png", doc=True)
        page.get_by_role("tab", name="Download Data").click()
        page.get_by_role("link", name=re.compile("LLM live charts")).click()
        page.wait_for_url(re.compile(r"/llm$"))
        _wait_for_live_data(page)
        slo_table = page.locator("#slo-table")  # the SLOs typed into the start form
        expect(slo_table).to_contain_text("TTFT p95")
        expect(slo_table).to_contain_text("TPOT p95")
        expect(slo_table).to_contain_text("2,000 ms")
        # The stub's /metrics: queue depth, KV cache use and replicas.
        for chart in ("queue", "kv", "replicas"):
            expect(page.locator(f"svg[data-chart={chart}] polyline").first).to_be_attached()
        _shot(page, "webui-llm-view.png", doc=True, settle_ms=16_000)

        page.goto(f"{ui.url}/")
        page.get_by_role("button", name="Stop", exact=True).click()
        page.goto(f"{ui.url}/llm")
        expect(page.locator("#report-link")).not_to_have_class(
            re.compile("disabled"), timeout=20_000
        )
        _assert_view_matches_records(ui, run_dir)
        with context.expect_page(timeout=60_000) as report_info:
            page.locator("#report-link").click()
        report = report_info.value
        report.wait_for_load_state("load", timeout=60_000)
        assert (run_dir / "report.html").is_file(), "the report route did not build report.html"
        run_id = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["run_id"]
        expect(report.locator("body")).to_contain_text(run_id)
        _shot(report, "webui-capacity-report.png", doc=False)


def _fill_start_form(page: Page, run_dir: Path) -> None:
    shape = page.get_by_label("Shape Class")
    offered = set(shape.locator("option").all_inner_texts())
    expected = {"".join(p.capitalize() for p in name.split("_")) + "Shape" for name in BUILDERS}
    assert expected <= offered, f"profiles missing from the shape dropdown: {expected - offered}"
    shape.select_option("SteadyShape")
    page.get_by_text("Custom parameters").click()
    for label, value in {**LLM_FIELDS, "Run Dir": str(run_dir)}.items():
        field = page.get_by_label(re.compile(rf"^{label}( \(|$)"))
        expect(field).to_be_visible()
        field.fill(value)
    expect(page.get_by_label(re.compile(r"^Arrival( \(|$)"))).to_be_visible()
    page.get_by_label(re.compile(r"^Baseline Users( \(|$)")).fill("3")
    page.get_by_label(re.compile(r"^Api Key Env( \(|$)")).scroll_into_view_if_needed()


def _wait_for_live_data(page: Page) -> None:
    """Until the tiles and charts show non-zero TTFT, TPOT and tokens/s (deadline 30 s)."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        values = [page.locator(f"#tile-{t}").get_attribute("data-value") for t in _TILES]
        n_points = page.locator("svg[data-chart=ttft] polyline").first
        drawn = n_points.count() and int(n_points.get_attribute("data-n") or 0) >= 2
        if drawn and all(v and float(v) > 0 for v in values):
            return
        page.wait_for_timeout(500)
    pytest.fail(f"the LLM view showed no live data within 30 s: tiles {values}")


_TILES = ("ttft", "tpot", "e2e", "tps", "rps")


def _assert_view_matches_records(ui: LocustUi, run_dir: Path) -> None:
    """The view's run-wide TTFT percentiles equal numpy's over the run's request records."""
    records = [
        RequestRecord.from_dict(json.loads(line))
        for path in sorted((run_dir / "requests").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    ttft_ms = [t * 1000.0 for r in records if r.error_kind is None and (t := ttft_s(r)) is not None]
    assert len(ttft_ms) > 0, f"no successful records in {run_dir}"
    deadline = time.monotonic() + 15.0
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        summary = _get_json(f"{ui.url}/llm/data?since=999999999")["summary"]
        if summary and summary["run"]["TTFT"]["n"] == len(ttft_ms):
            break
        time.sleep(0.5)
    assert summary["run"]["TTFT"]["n"] == len(ttft_ms)
    want = np.percentile(ttft_ms, [50, 95, 99])
    got = [summary["run"]["TTFT"][f"p{q}_ms"] for q in (50, 95, 99)]
    assert got == pytest.approx(list(want), rel=1e-9)


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def _shot(page: Page, name: str, *, doc: bool, settle_ms: int = 0) -> None:
    """Screenshot to the artifacts; for the docs (on request) after letting charts fill."""
    path = ARTIFACTS / name
    update_docs = doc and os.environ.get("SURGEBENCH_UPDATE_DOC_IMAGES") == "1"
    if update_docs and settle_ms:
        page.wait_for_timeout(settle_ms)  # a picture, not a measurement: only for docs/img
    page.screenshot(path=str(path), full_page=True)
    if update_docs:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / name)
