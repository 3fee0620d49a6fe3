"""The Locust command line for a run (pure: builds argv, never imports locust).

Locust always runs as a subprocess (``python -m locust``): importing it would gevent-patch
this process (docs/ARCHITECTURE.md). Locust's own outputs go beside our records as a
cross-check: ``locust_stats.csv``, ``locust_stats_history.csv``, ``locust_failures.csv``,
``locust_exceptions.csv`` and ``locust.html``.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import locustfiles
import profiles
from surgebench.exit_code import MissingPartError

LOCUSTFILES_DIR = Path(locustfiles.__file__).resolve().parent
PROFILES_DIR = Path(profiles.__file__).resolve().parent
DEFAULT_LOCUSTFILE = "chat"

# --slo keys that locustfiles can also watch live (its --slo-<metric>-p95-ms options).
_LIVE_SLO_KEYS = ("ttft_p95_ms", "tpot_p95_ms", "e2e_p95_ms")


@dataclass(frozen=True, slots=True)
class LocustSpec:
    """Everything that decides the Locust command; option names per locustfiles/options.py."""

    locustfile: Path
    shape_file: Path | None
    host: str
    run_dir: Path
    processes: int = 1
    shape_args: tuple[str, ...] = ()
    model: str | None = None
    api_key_env: str | None = None
    seed: int | None = None
    slo: Mapping[str, float] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    stop_timeout_s: float | None = None
    """Locust ``--stop-timeout``, for closed-loop profiles: when a profile lowers the user
    count, or the run ends, a user finishes its in-flight request (as a real user would)
    instead of being killed mid-stream and recorded as an aborted (failed) request. Not for
    open loop: its dispatcher users never finish a task, the stop would only wait it out."""
    target_kind: Literal["stub", "external"] = "external"
    """Recorded in the manifest (locustfiles' ``--target-kind``); analysis uses it."""
    expect_workers: int = 0
    """> 0: run as a Locust master that waits for this many workers (docs/distributed.md)."""
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    local_master_port: int | None = None
    """With ``processes`` > 1: the loopback port of Locust's local master (Locust's default,
    5557 on every interface, would clash with any other Locust on the machine)."""


def locustfile_path(name: str) -> Path:
    """``chat`` -> locustfiles/chat.py; a path to a .py file is taken as is."""
    candidate = Path(name)
    if candidate.suffix == ".py":
        if not candidate.is_file():
            raise MissingPartError(f"locustfile {name!r} does not exist")
        return candidate.resolve()
    path = LOCUSTFILES_DIR / f"{name}.py"
    if not path.is_file():
        known = sorted(
            p.stem
            for p in LOCUSTFILES_DIR.glob("*.py")
            if p.stem in {"chat", "mixed", "images", "api"} or "User" in p.read_text("utf-8")
        )
        listed = ", ".join(known) or "(none yet)"
        raise MissingPartError(
            f"locustfile {name!r} not found in {LOCUSTFILES_DIR}; known: {listed}"
        )
    return path


def shape_file_for(builder_name: str) -> Path:
    """The profiles/<builder>.py file that defines the LoadTestShape of a preset's builder."""
    path = PROFILES_DIR / f"{builder_name}.py"
    if not path.is_file():
        raise MissingPartError(f"no shape file {path} for profile builder {builder_name!r}")
    return path


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust_base_argv() -> list[str]:
    return [sys.executable, "-m", "locust"]


def headless_argv(spec: LocustSpec) -> list[str]:
    """``python -m locust -f LOCUSTFILE[,SHAPE] --headless --host URL ... --run-dir DIR``."""
    files = str(spec.locustfile) + (f",{spec.shape_file}" if spec.shape_file else "")
    argv = [
        *locust_base_argv(),
        "-f",
        files,
        "--headless",
        "--host",
        spec.host,
        "--csv",
        str(spec.run_dir / "locust"),
        "--html",
        str(spec.run_dir / "locust.html"),
        "--run-dir",
        str(spec.run_dir),
    ]
    if spec.stop_timeout_s is not None:
        argv += ["--stop-timeout", f"{spec.stop_timeout_s:g}"]
    if spec.processes > 1:
        argv += ["--processes", str(spec.processes)]
        if spec.local_master_port is not None:
            port = str(spec.local_master_port)
            argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
            argv += ["--master-port", port]
    if spec.expect_workers > 0:
        argv += [
            "--master",
            "--expect-workers",
            str(spec.expect_workers),
            "--master-bind-host",
            spec.master_bind_host,
            "--master-bind-port",
            str(spec.master_bind_port),
        ]
    argv += _load_args(spec)
    argv += list(spec.shape_args)
    argv += list(spec.extra)
    return argv


def _load_args(spec: LocustSpec) -> list[str]:
    argv: list[str] = []
    if spec.model:
        argv += ["--model", spec.model]
    if spec.api_key_env:
        argv += ["--api-key-env", spec.api_key_env]
    if spec.seed is not None:
        argv += ["--seed", str(spec.seed)]
    argv += ["--target-kind", spec.target_kind]
    for key in _LIVE_SLO_KEYS:
        if key in spec.slo:
            metric = key.removesuffix("_p95_ms")
            argv += [f"--slo-{metric}-p95-ms", f"{spec.slo[key]:g}"]
    return argv


def worker_argv(
    locustfile: Path,
    shape_file: Path | None,
    *,
    master_host: str,
    master_port: int = 5557,
    processes: int = 1,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """A Locust worker for a master started by ``surgebench run --expect-workers N``.

    Workers get every custom option (run directory, model, profile parameters) from the
    master when the run starts; they only need the same files.
    """
    files = str(locustfile) + (f",{shape_file}" if shape_file else "")
    argv = [
        *locust_base_argv(),
        "-f",
        files,
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
    ]
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv + list(extra)
