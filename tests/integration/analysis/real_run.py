"""A short real run for what-if checks: the stub and Locust as subprocesses, on loopback.

``real_run`` starts ``python -m target_stub`` (tests/stub_process.py) on an ephemeral
loopback port, runs Locust headless against it (never in the test process: Locust imports
gevent), and writes ``stub_config.json`` beside the records as ``surgebench run`` does (the
settings the stub was started with, from ``target_stub.config.load_config``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from target_stub.config import load_config
from tests.stub_process import running_stub

REPO = Path(__file__).resolve().parents[3]
PRESET = "tiny"


@dataclass(frozen=True)
class Scenario:
    """One real run: the stub's settings, the profile and the load generator's options."""

    profile: str
    """A preset of profiles/ (its Locust shape is ``profiles/<profile>.py``)."""
    profile_params: str
    """``--profile-params`` (``NAME=VALUE,...``)."""
    replicas: int = 2
    locust_args: tuple[str, ...] = ()
    seed: int = 0
    timeout_s: float = 45.0


def real_run(scenario: Scenario, run_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``scenario`` into ``run_dir``; returns Locust's completed process."""
    stub_settings: Mapping[str, object] = {"replicas": scenario.replicas, "seed": scenario.seed}
    config = load_config(PRESET, overrides=stub_settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stub_config.json").write_text(config.model_dump_json(indent=2), encoding="utf-8")
    stub_args = (
        "--preset",
        PRESET,
        "--replicas",
        str(scenario.replicas),
        "--seed",
        str(scenario.seed),
    )
    with running_stub(stub_args) as stub:
        return subprocess.run(
            locust_argv(scenario, stub.url, run_dir, config.engine.model),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=scenario.timeout_s,
            check=False,
        )


def locust_argv(scenario: Scenario, host: str, run_dir: Path, model: str) -> list[str]:
    files = f"{REPO / 'locustfiles' / 'chat.py'},{REPO / 'profiles' / scenario.profile}.py"
    args: Sequence[str] = (
        "-f", files, "--headless", "--only-summary", "--host", host, "--run-dir", str(run_dir),
        "--model", model, "--seed", str(scenario.seed), "--target-kind", "stub",
        "--profile-params", scenario.profile_params, "--profile-seed", str(scenario.seed),
    )  # fmt: skip
    return [sys.executable, "-m", "locust", *args, *scenario.locust_args]
