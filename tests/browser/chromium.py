"""Debian's Chromium driven by Playwright (Playwright's own browser download fails here).

The binary comes from the ``chromium`` package (``make chromium`` installs it); a missing
binary fails the test with that instruction rather than skipping it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is not installed: run `make chromium` (apt-get install chromium)"
        )
    return path


@contextmanager
def chromium_context(*, width: int = 1400, height: int = 1000) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile directory, closed on exit."""
    executable = chromium_path()
    with (
        tempfile.TemporaryDirectory(prefix="surgebench-chromium-") as profile_dir,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height},
        )
        try:
            context.set_default_timeout(15_000)
            yield context
        finally:
            context.close()
