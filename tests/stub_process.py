"""Start the real stub as a subprocess on an ephemeral loopback port (for tests and benchmarks).

The stub prints ``surgebench stub listening on http://HOST:PORT`` once it accepts connections;
this module waits for that line (with a deadline) and stops the process on exit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

_READY = re.compile(r"listening on (http://\S+)")


@dataclass(frozen=True)
class StubProcess:
    url: str
    process: subprocess.Popen[str]
    output: list[str]
    """Every line the stub printed (stdout and stderr), kept up to date by a reader thread."""


@contextmanager
def running_stub(
    args: Sequence[str] = ("--preset", "tiny"),
    *,
    env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 30.0,
) -> Iterator[StubProcess]:
    """Run ``python -m target_stub --port 0 ARGS`` and yield its URL once ready."""
    cmd = [sys.executable, "-m", "target_stub", "--port", "0", *args]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env
    )
    reader: threading.Thread | None = None
    try:
        output: list[str] = []
        url = _wait_for_url(proc, ready_timeout_s, output)
        # Keep draining the pipe so a chatty stub never blocks on a full pipe buffer.
        reader = threading.Thread(target=_drain, args=(proc, output), daemon=True)
        reader.start()
        yield StubProcess(url=url, process=proc, output=output)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if reader is not None:
            reader.join(timeout=5)  # EOF arrives once the process has exited
        if proc.stdout is not None:
            proc.stdout.close()


def _drain(proc: subprocess.Popen[str], output: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)


def _wait_for_url(proc: subprocess.Popen[str], timeout_s: float, seen: list[str]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = _READY.search(line)
        if match:
            return match.group(1)
    raise RuntimeError(f"stub did not become ready within {timeout_s} s; output: {''.join(seen)}")
