"""Runs that must not pass: a client-limited run (exit 2) and a run stopped by Ctrl-C
(records kept, manifest finalised, analysis still runs, no process left behind)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.integration.cli.conftest import surgebench


def test_client_limited_run_exits_2(tmp_path: Path) -> None:
    # An open-loop rate far above what one in-flight request at a time can carry: every
    # arrival over the cap is dropped by the load generator, which makes the generator the
    # bottleneck (locustfiles/health.py) and the run invalid.
    run_dir = tmp_path / "limited"
    done = surgebench(
        [
            "run", "--profile=steady", "--param=mode=rate", "--param=baseline=80",
            "--duration=6", f"--out={run_dir}", "--stub-preset=tiny", "--no-progress",
            "--", "--max-in-flight", "1",
        ]
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
    assert summary["verdict"] == "invalid" and summary["validity"]["client_limited"] is True
    assert any("dropped" in reason for reason in summary["validity"]["reasons"])
    assert "RUN INVALID (exit 2)" in done.stdout


def _record_count(run_dir: Path) -> int:
    return sum(
        len(path.read_text("utf-8").splitlines()) for path in (run_dir / "requests").glob("*.jsonl")
    )


def test_ctrl_c_stops_cleanly_and_keeps_every_record(tmp_path: Path) -> None:
    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "surgebench", "run", "--profile=steady", "--param=baseline=3",
            "--duration=300", f"--out={run_dir}", "--stub-preset=tiny", "--processes=2",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and proc.poll() is None:
            if (run_dir / "requests").is_dir() and _record_count(run_dir) >= 20:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[0]
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # the stub, the Locust master and its two workers
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 1, 2), output
    assert "interrupted" in output
    manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    assert manifest["finished_at"] is not None
    files = sorted(p.name for p in (run_dir / "requests").glob("*.jsonl"))
    assert len(files) == 2 and all(name.startswith("worker-") for name in files)
    summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
    # Every record written before the stop is in the analysis (none lost, none half-written).
    assert summary["overall"]["n_finished"] == _record_count(run_dir) >= 20
    assert (run_dir / "report.html").is_file()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_master_and_worker_put_every_record_in_the_run_dir(tmp_path: Path) -> None:
    # docs/distributed.md on one machine: `run --expect-workers 1` is the master (it drives
    # the profile and analyses), `surgebench worker` generates the load.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_dir = tmp_path / "distributed"
    master = subprocess.Popen(
        [
            sys.executable, "-m", "surgebench", "run", "--profile=steady", "--param=baseline=3",
            "--duration=8", f"--out={run_dir}", "--stub-preset=tiny", "--expect-workers=1",
            "--master-bind-host=127.0.0.1", f"--master-bind-port={port}", "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        worker = surgebench(
            ["worker", "--profile=steady", "--master-host=127.0.0.1", f"--master-port={port}"],
            timeout_s=90,
        )
        output, _ = master.communicate(timeout=90)
    finally:
        if master.poll() is None:
            master.kill()
            master.communicate()
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert master.returncode == 0, output
    files = list((run_dir / "requests").glob("*.jsonl"))
    assert [p.name.split("-")[0] for p in files] == ["worker"]
    summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
    assert summary["overall"]["n_finished"] == _record_count(run_dir) >= 50
