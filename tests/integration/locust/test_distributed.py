"""``--processes 2`` with a rate-mode profile: one request file per worker, one manifest,
a shared t0, each worker's share of the profile's rate, stage names in every record."""

from __future__ import annotations

import csv
import socket
from collections import Counter
from pathlib import Path

from tests.integration.locust.locust_run import (
    CHAT,
    REPO,
    read_manifest,
    read_records,
    run_locust,
    stub,
)

STEADY = str(REPO / "profiles" / "steady.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_processes_share_one_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    port = str(_free_port())  # not Locust's default 5557: other runs may hold it
    with stub(["--preset", "tiny", "--fixed-ttft-ms", "20", "--fixed-itl-ms", "5"]) as server:
        result = run_locust(
            f"{CHAT},{STEADY}",
            server.url,
            run_dir,
            [
                "--processes",
                "2",
                "--master-bind-port",
                port,
                "--master-port",
                port,
                "--profile-params",
                "duration_s=6,ramp_s=2",
                "--baseline-rps",
                "30",
                "--prompt-tokens",
                "fixed:16",
                "--output-tokens",
                "fixed:4",
                "--ignore-eos",
            ],
            timeout_s=90,
        )
    files = sorted(p.name for p in (run_dir / "requests").glob("*.jsonl"))
    assert len(files) == 2, (files, result.stderr[-3000:])
    assert all(name.startswith("worker-") for name in files)
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json", "offered.csv", "requests"]

    manifest = read_manifest(run_dir)
    assert manifest["loadgen"]["processes"] == 2
    assert manifest["profile"]["name"] == "steady"
    assert [s["name"] for s in manifest["stages"]] == ["ramp", "steady"]
    assert manifest["finished_at"] is not None

    records = [
        r for r in read_records(run_dir) if r["error"] is None or "interrupted" not in r["error"]
    ]
    assert {r["user_class"] for r in records} == {"open_loop"}
    per_process = Counter(r["process_id"] for r in records)
    assert len(per_process) == 2 and min(per_process.values()) > 60, per_process
    # One t0 for both processes: each sends from the start of the profile to its end.
    for pid in per_process:
        sent = [r["t_sent_s"] for r in records if r["process_id"] == pid]
        assert 0.0 < min(sent) < 1.5 and 7.0 < max(sent) < 8.3, (pid, min(sent), max(sent))
    # 30 req/s in total over the 6 s steady stage, split between the two workers.
    steady = [r for r in records if 2.0 <= r["t_intended_s"] < 8.0]
    assert abs(len(steady) / 6.0 - 30.0) < 0.25 * 30.0, len(steady)
    assert {r["stage"] for r in steady} == {"steady"}
    assert {r["stage"] for r in records if r["t_intended_s"] < 2.0} == {"ramp"}

    with (run_dir / "offered.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["stage"] for row in rows[2:6]] == ["steady"] * 4
    assert rows[3]["target_rps"] == "30"
