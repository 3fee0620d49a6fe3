"""``surgebench ui`` (stub + Locust web UI, every profile selectable) and usage errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from profiles.registry import BUILDERS
from tests.integration.cli.conftest import surgebench


def test_ui_serves_every_profile_shape_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "surgebench", "ui", "--web-port=0", "--stub-preset=tiny",
            f"--out={tmp_path / 'ui-run'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + 60.0
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            match = re.search(r"Locust web UI: (http://127\.0\.0\.1:\d+)", "".join(lines))
            url = match.group(1) if match else None
            time.sleep(0.1)
        assert url is not None, "".join(lines)
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode("utf-8")
        assert f"LLM view (TTFT, TPOT, tokens/s, the stub's queue and KV): {url}/llm" in "".join(
            lines
        )
        with urllib.request.urlopen(f"{url}/llm", timeout=10) as response:
            assert 'src="llm/assets/llm.js"' in response.read().decode("utf-8")
        with urllib.request.urlopen(f"{url}/llm/data", timeout=10) as response:
            assert isinstance(json.loads(response.read()), dict)
        offered = re.search(r'"available_shape_classes": \[([^\]]*)\]', page)
        assert offered is not None
        for name in BUILDERS:
            shape = "".join(part.capitalize() for part in name.split("_")) + "Shape"
            assert f'"{shape}"' in offered.group(1)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=45) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)
        stdout.close()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--profile=viarl", "--out=x"], "Unknown profile 'viarl'; known: failover"),
        (["run", "--out=x"], "Missing option '--profile'"),
        (["run", "--profile=viral", "--out=x", "--processes=zero"], "'--processes'"),
        (["run", "--profile=viral", "--out=x", "--slo=ttft=5"], "'ttft=5'"),
        (["run", "--profile=viral", "--out=x", "--stub-preset=h200"], "h200"),
        (["run", "--profile=viral", "--out=x", "--target=ftp://a"], "'ftp://a'"),
        (["report", "no-such-dir"], "no-such-dir is not a directory"),
        (["plan", "no-such-dir", "--peak-rps=5"], "not a directory"),
        (["nosuch"], "No such command"),
    ],
)
def test_usage_errors_exit_3_and_name_the_value(
    args: list[str], fragment: str, tmp_path: Path
) -> None:
    done = surgebench([a.replace("--out=x", f"--out={tmp_path / 'x'}") for a in args])
    assert done.returncode == 3, done.stdout + done.stderr
    assert fragment in done.stderr
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_stub_passes_through_to_the_stub() -> None:
    done = surgebench(["stub", "--help"])
    assert done.returncode == 0 and "python -m target_stub" in done.stdout
