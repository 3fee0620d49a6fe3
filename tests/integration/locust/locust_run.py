"""Run Locust headless as a subprocess (never in the test process) and read its run directory."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.stub_process import StubProcess, _drain, running_stub

REPO = Path(__file__).resolve().parents[3]
CHAT = str(REPO / "locustfiles" / "chat.py")
MIXED = str(REPO / "locustfiles" / "mixed.py")


def locust_command(locustfile: str, host: str, run_dir: Path, args: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile,
        "--headless",
        "--host",
        host,
        "--run-dir",
        str(run_dir),
        "--only-summary",
        "--loglevel",
        "INFO",
        *args,
    ]


def run_locust(
    locustfile: str,
    host: str,
    run_dir: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
    cpu: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run to completion (``-t`` in ``args`` bounds it; ``timeout_s`` is the hard deadline).

    ``cpu`` pins Locust to that core (Linux, when it exists), away from the stub's.
    """
    command = locust_command(locustfile, host, run_dir, args)
    if cpu is not None and can_pin():
        core = sorted(os.sched_getaffinity(0))[cpu]
        command = ["taskset", "-c", str(core), *command]
    return subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def can_pin() -> bool:
    return (
        hasattr(os, "sched_setaffinity")
        and len(os.sched_getaffinity(0)) >= 2
        and shutil.which("taskset") is not None
    )


def pin(pid: int, cpu: int) -> None:
    """Pin a running process (the stub) to one core, when there are at least two."""
    if can_pin():
        os.sched_setaffinity(pid, {sorted(os.sched_getaffinity(0))[cpu]})


async def run_locust_async(
    locustfile: str, host: str, run_dir: Path, args: Sequence[str], *, timeout_s: float = 60.0
) -> tuple[int, str]:
    """The same from an asyncio test (whose event loop serves a test server meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        *locust_command(locustfile, host, run_dir, args),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((run_dir / "requests").glob("*.jsonl")):
        records.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return records


def read_manifest(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "manifest.json").read_text())
    assert isinstance(data, dict)
    return data


@contextmanager
def stub(args: Sequence[str], *, env: Mapping[str, str] | None = None) -> Iterator[StubProcess]:
    """``running_stub`` that also joins its output reader and closes the pipe afterwards."""
    with running_stub(args, env=env) as process:
        yield process
    for thread in threading.enumerate():
        thread_args = getattr(thread, "_args", ())
        if getattr(thread, "_target", None) is _drain and thread_args[:1] == (process.process,):
            thread.join(timeout=5.0)
    if process.process.stdout is not None:
        process.process.stdout.close()


def completed(records: list[dict[str, Any]], *, after_s: float = 0.0) -> list[dict[str, Any]]:
    return [r for r in records if r["error_kind"] is None and r["t_sent_s"] >= after_s]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
