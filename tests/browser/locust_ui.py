"""Run Locust's web UI as a subprocess on a free loopback port (for browser and UI tests).

Locust's output goes to ``log_path`` (a file, so a chatty process never blocks on a full
pipe); the process is stopped with SIGTERM, then SIGKILL after a deadline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocustUi:
    url: str
    """Base URL of the web UI, without a trailing slash."""
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    """A port that was free a moment ago (Locust has no ``--web-port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_locust_ui(
    locustfiles: Sequence[str | Path],
    args: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 30.0,
) -> Iterator[LocustUi]:
    """``python -m locust -f FILES --web-host 127.0.0.1 --web-port PORT ARGS``, ready to use."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        ",".join(str(f) for f in locustfiles),
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        *args,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})}
        )
    ui = LocustUi(url=f"http://127.0.0.1:{port}", process=proc, log_path=log_path)
    try:
        wait_for_http(f"{ui.url}/", proc, ready_timeout_s, log_path)
        yield ui
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_for_http(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"locust exited with {proc.returncode} before serving {url}; output:\n"
                + log_path.read_text(encoding="utf-8", errors="replace")
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"locust did not serve {url} within {timeout_s} s")
