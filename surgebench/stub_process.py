"""The stub as a child process: start on a free loopback port, wait until ready, stop cleanly.

The stub (``python -m target_stub``) prints ``surgebench stub listening on http://HOST:PORT``
once it accepts connections. Everything it prints afterwards goes to ``log_path`` (plain text,
one line per stub log line) so a chatty stub never blocks on a full pipe.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from surgebench.exit_code import MissingPartError, UsageError

log = logging.getLogger(__name__)

_READY = re.compile(r"listening on (https?://\S+)")


@dataclass
class StubProcess:
    """A running stub; ``stop()`` is idempotent."""

    url: str
    process: subprocess.Popen[str]
    argv: tuple[str, ...]
    _reader: threading.Thread | None = field(default=None, repr=False)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGINT (the stub's clean shutdown), then SIGTERM, then SIGKILL; returns the exit code."""
        if self.process.poll() is None:
            for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 5.0)):
                self.process.send_signal(sig)
                try:
                    self.process.wait(timeout=wait_s)
                    break
                except subprocess.TimeoutExpired:
                    log.warning("stub did not stop after %s; escalating", sig.name)
            else:
                self.process.kill()
                self.process.wait(timeout=5.0)
        if self._reader is not None:
            self._reader.join(timeout=2.0)
        return self.process.returncode


def stub_argv(extra: Sequence[str], *, host: str = "127.0.0.1") -> list[str]:
    """``python -m target_stub --host HOST --port 0 EXTRA...`` with this interpreter."""
    return [sys.executable, "-m", "target_stub", "--host", host, "--port", "0", *extra]


def resolved_stub_config(
    extra: Sequence[str], *, env: dict[str, str] | None = None, timeout_s: float = 60.0
) -> dict[str, object]:
    """The stub's settings for these arguments (``--print-config``), without starting it.

    Also validates the arguments before anything runs: a bad preset or flag is a UsageError
    with the stub's own message.
    """
    argv = [*stub_argv(extra), "--print-config"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        if any("No module named target_stub" in line for line in message):
            raise MissingPartError("the stub (python -m target_stub) is not available yet")
        errors = [line.strip() for line in message if "error" in line.lower()]
        raise UsageError(f"stub options rejected: {' '.join(errors[-2:] or message[-3:])}")
    config = json.loads(done.stdout)
    if not isinstance(config, dict):
        raise MissingPartError(
            f"the stub's --print-config gave {type(config).__name__}, not an object"
        )
    return config


def start_stub(
    extra: Sequence[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 60.0,
) -> StubProcess:
    """Start the stub, return once it prints its URL; raise if it exits or times out first.

    The child gets its own session so a terminal Ctrl-C reaches only surgebench, which then
    stops Locust first and the stub last (Locust must finish its in-flight records first).
    """
    argv = stub_argv(extra)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    except OSError as exc:  # pragma: no cover - sys.executable always exists
        raise MissingPartError(f"cannot start the stub ({argv[0]}): {exc}") from exc
    logfile = log_path.open("a", encoding="utf-8")
    try:
        url = _wait_for_url(proc, logfile, ready_timeout_s)
    except BaseException:
        _terminate(proc)
        logfile.close()
        raise
    reader = threading.Thread(target=_copy_lines, args=(proc, logfile), daemon=True)
    reader.start()
    log.info("stub ready at %s (pid %d)", url, proc.pid)
    return StubProcess(url=url, process=proc, argv=tuple(argv), _reader=reader)


def _wait_for_url(proc: subprocess.Popen[str], logfile: IO[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    found: list[str] = []

    def scan() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            logfile.write(line)
            match = _READY.search(line)
            if match:
                found.append(match.group(1))
                return

    # readline() blocks; a thread lets the deadline hold even if the stub prints nothing.
    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    scanner.join(timeout=timeout_s)
    logfile.flush()
    if found:
        return found[0]
    tail = "".join(lines[-20:]).strip()
    if proc.poll() is not None:
        if "No module named target_stub" in tail or "No module named target_stub.__main__" in tail:
            raise MissingPartError("the stub (python -m target_stub) is not available yet")
        raise UsageError(
            f"the stub exited with code {proc.returncode} before it was ready:\n{tail}"
        )
    raise MissingPartError(f"the stub did not print its URL within {timeout_s:.0f} s:\n{tail}")


def _copy_lines(proc: subprocess.Popen[str], logfile: IO[str]) -> None:
    assert proc.stdout is not None
    with logfile:
        for line in proc.stdout:
            logfile.write(line)
            logfile.flush()


def _terminate(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)


def wait_until_exit(proc: subprocess.Popen[str], poll_s: float = 0.2) -> int:
    """Block until ``proc`` exits (polling keeps the main thread responsive to Ctrl-C)."""
    while proc.poll() is None:
        time.sleep(poll_s)
    return proc.returncode
