"""One real ``surgebench run`` shared by the CLI's integration tests (session scope).

A compressed ``viral`` surge (~25 s) against the tiny stub with API keys required, so the
same run also shows that the key never reaches a file. Budget for everything under
tests/integration/cli: about 150 s on a 2-core box.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

API_KEY_ENV = "SURGEBENCH_TEST_KEY"
API_KEY = "sk-surgebench-test-3f9c2a"  # a test value; the test checks it is written nowhere
SLO = "ttft_p95_ms=3000,tpot_p95_ms=300,error_max_frac=0.05"


@dataclass(frozen=True)
class CliRun:
    run_dir: Path
    returncode: int
    stdout: str
    stderr: str


def surgebench(
    args: Sequence[str], *, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m surgebench ARGS`` in a child process (the real console entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "surgebench", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRun]:
    run_dir = tmp_path_factory.mktemp("cli") / "viral-run"
    done = surgebench(
        [
            "run",
            "--profile=viral",
            "--param=baseline=2",
            "--param=multiplier=3",
            "--duration=25",
            "--seed=11",
            f"--out={run_dir}",
            "--stub-preset=tiny",
            f"--stub-arg=--api-key-env={API_KEY_ENV}",
            f"--api-key-env={API_KEY_ENV}",
            f"--slo={SLO}",
            "--ci",
        ],
        env={API_KEY_ENV: API_KEY},
        timeout_s=150.0,
    )
    yield CliRun(run_dir, done.returncode, done.stdout, done.stderr)
