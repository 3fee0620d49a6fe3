"""The report renders in headless Chromium with no network request (Debian's chromium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from analysis.pipeline import AnalysisOptions
from analysis.report import write_report

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.mark.browser
def test_report_renders_offline(surge_run_dir: Path, tmp_path: Path) -> None:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required (make chromium installs it)"
    result = write_report(surge_run_dir, AnalysisOptions(n_boot=50), tmp_path)
    fetched: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: fetched.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(result.report_path.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8",
                timeout=30_000,
            )
            plots = page.eval_on_selector_all(".js-plotly-plot", "els => els.length")
        finally:
            browser.close()
    assert errors == []
    assert [u for u in fetched if not u.startswith(("file:", "data:", "blob:"))] == []
    assert plots >= 7  # 5 time series (server metrics present), saturation, USL, surge
