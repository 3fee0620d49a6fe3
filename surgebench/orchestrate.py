"""One run from profile to verdict: start the stub, run Locust headless, analyse, judge.

Files this adds to the run directory (everything else is written by Locust and analysis):
``stub_config.json`` (the stub's resolved settings, ``python -m target_stub --print-config``;
only when the target is the stub), ``server_metrics.jsonl`` (surgebench.metrics_scraper:
the stub's ``/metrics``, or ``metrics_url``), ``logs/stub.log`` (the stub's output),
``logs/locust.log`` (Locust's stdout and stderr) and ``logs/commands.txt`` (the stub and
Locust command lines, one per line; never a secret: API keys are passed by environment
variable NAME only).

Ctrl-C: Locust runs in its own session, so a terminal Ctrl-C reaches only this process,
which then sends Locust SIGINT (it stops its users, flushes the records and finalises the
manifest), escalating to SIGTERM and SIGKILL only after ``grace_s`` or a second Ctrl-C;
then the stub is stopped and the analysis runs on whatever was recorded.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from surgebench.capacity_plan import STUB_CONFIG_FILE, CapacityOptions, stub_facts
from surgebench.ci_report import write_ci_outputs
from surgebench.exit_code import ExitCode, UsageError
from surgebench.locust_command import LocustSpec, headless_argv
from surgebench.metrics_scraper import MetricsScraper
from surgebench.options import Target
from surgebench.progress import ProgressPrinter, RunTail
from surgebench.reporting import build_report, failure_text
from surgebench.stub_process import StubProcess, resolved_stub_config, start_stub
from surgebench.verdict import RunVerdict, read_summary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """A validated ``surgebench run``; ``locust.host`` is filled in once the stub listens."""

    target: Target
    out_dir: Path
    locust: LocustSpec
    total_s: float | None
    slo: Mapping[str, float] = field(default_factory=dict)
    stub_args: tuple[str, ...] = ()
    capacity: CapacityOptions = field(default_factory=CapacityOptions)
    ci: bool = False
    show_progress: bool = True
    grace_s: float = 30.0
    metrics_url: str | None = None
    """Prometheus endpoint to scrape into server_metrics.jsonl (default: the stub's)."""
    scrape_metrics: bool = True
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra environment for the stub and Locust (e.g. an admin token); never written."""
    overrun_s: float | None = None
    """Stop Locust this long after the profile should have ended (default: max(60 s, 25 %))."""

    @property
    def deadline_s(self) -> float | None:
        if self.total_s is None:
            return None
        allowance = self.overrun_s if self.overrun_s is not None else max(60.0, self.total_s / 4)
        return self.total_s + allowance


@dataclass(frozen=True)
class RunResult:
    exit_code: ExitCode
    run_dir: Path
    verdict: RunVerdict | None
    interrupted: bool
    message: str


def execute(plan: RunPlan, *, stream: TextIO = sys.stderr) -> RunResult:
    """Run the plan; returns the exit code and verdict (never raises for a breached SLO)."""
    out_dir = plan.out_dir
    if (out_dir / "manifest.json").exists():
        raise UsageError(
            f"--out {out_dir} already holds a run (manifest.json); runs are immutable, "
            "choose a new directory"
        )
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stub: StubProcess | None = None
    scraper: MetricsScraper | None = None
    interrupted = False
    if plan.target.kind == "stub":
        config = resolved_stub_config(plan.stub_args, env=dict(plan.env))  # validates first
        (out_dir / STUB_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    try:
        spec = plan.locust
        if plan.target.kind == "stub":
            stub = start_stub(plan.stub_args, log_path=logs / "stub.log", env=dict(plan.env))
            model = spec.model or stub_model(stub.url, api_key_env=spec.api_key_env)
            spec = replace(spec, host=stub.url, model=model)
        argv = headless_argv(spec)
        _record_commands(logs / "commands.txt", stub, argv)
        metrics_url = plan.metrics_url or (f"{stub.url}/metrics" if stub else None)
        if plan.scrape_metrics and metrics_url:
            scraper = MetricsScraper(metrics_url, out_dir)
            scraper.start()
        interrupted = _run_locust(argv, plan, logs / "locust.log", stream)
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C before Locust started: nothing recorded yet
    finally:
        if scraper is not None:
            scraper.stop()
        if stub is not None:
            stub.stop()
    if not (out_dir / "manifest.json").exists():
        tail = _tail(logs / "locust.log")
        if interrupted:
            return RunResult(
                ExitCode.USAGE, out_dir, None, True, "interrupted before Locust started"
            )
        raise UsageError(f"Locust did not start a run (no manifest.json in {out_dir}):\n{tail}")
    return analyse(out_dir, plan.slo, plan.capacity, ci=plan.ci, interrupted=interrupted)


def analyse(
    run_dir: Path,
    slo: Mapping[str, float],
    capacity: CapacityOptions | None = None,
    *,
    ci: bool = False,
    interrupted: bool = False,
) -> RunResult:
    """Build report.html + summary.json, read the verdict, write the CI outputs if asked."""
    call = build_report(run_dir, slo, analysis_args(run_dir, capacity or CapacityOptions()))
    if call.returncode == ExitCode.USAGE:  # analysis could not read the run directory
        raise UsageError(f"analysis rejected {run_dir}: {failure_text(call, lines=3)}")
    # 0/1/2 are analysis's verdicts; anything else is a crash, and a summary.json left by an
    # earlier report must not be taken for this one's.
    if call.returncode not in (0, 1, 2) or not (run_dir / "summary.json").exists():
        return RunResult(
            ExitCode.RUN_INVALID,
            run_dir,
            None,
            interrupted,
            f"analysis failed (exit {call.returncode}):\n{failure_text(call)}",
        )
    verdict = read_summary(run_dir)
    if ci:
        write_ci_outputs(verdict, run_dir)
    return RunResult(verdict.exit_code, run_dir, verdict, interrupted, "")


def analysis_args(run_dir: Path, capacity: CapacityOptions) -> list[str]:
    """Capacity flags for ``python -m analysis report``, with the stub's GPUs per replica
    (from stub_config.json). The replica count is left to analysis, which reads the ready
    replicas from server_metrics.jsonl (an autoscaler changes them), else stub_config.json."""
    _, gpus = stub_facts(run_dir)
    return capacity.with_defaults(gpus_per_replica=gpus).report_args()


def stub_model(url: str, *, api_key_env: str | None = None, timeout_s: float = 5.0) -> str | None:
    """The first model id the stub serves (``GET /v1/models``, with the key when the stub
    requires one; the key is read from the named variable here, at the edge, and not kept)."""
    headers = {}
    if api_key_env and os.environ.get(api_key_env):
        headers["Authorization"] = f"Bearer {os.environ[api_key_env]}"
    request = urllib.request.Request(f"{url}/v1/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = json.load(response)
        return str(data["data"][0]["id"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        log.warning("could not read the stub's model list; using Locust's default --model")
        return None


def _run_locust(argv: list[str], plan: RunPlan, log_path: Path, stream: TextIO) -> bool:
    """Run Locust to the end (or to Ctrl-C); returns True when interrupted."""
    tail = RunTail(plan.out_dir)
    printer = ProgressPrinter(stream) if plan.show_progress else None
    with log_path.open("a", encoding="utf-8") as logfile:
        proc = subprocess.Popen(
            argv,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **plan.env},
        )
        try:
            finished = _wait(proc, lambda: _show(printer, tail, plan.total_s), plan.deadline_s)
            if not finished:
                log.warning(
                    "Locust still running %.0f s after start (profile: %.0f s); stopping it",
                    plan.deadline_s or 0.0,
                    plan.total_s or 0.0,
                )
                stop_locust(proc, grace_s=plan.grace_s)
            return False
        except KeyboardInterrupt:
            stream.write("\ninterrupted: stopping Locust (records are kept) ...\n")
            stop_locust(proc, grace_s=plan.grace_s)
            return True
        finally:
            if printer is not None:
                _show(printer, tail, plan.total_s)
                printer.finish()


def stop_locust(proc: subprocess.Popen[bytes], *, grace_s: float) -> None:
    """SIGINT, then SIGTERM, then SIGKILL; a second Ctrl-C skips ahead one step."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            log.warning("Locust did not stop within %.0f s of %s", wait_s, sig.name)
        except KeyboardInterrupt:
            log.warning("second Ctrl-C: escalating")


def _wait(
    proc: subprocess.Popen[bytes],
    tick: Callable[[], None],
    deadline_s: float | None,
    every_s: float = 1.0,
) -> bool:
    """Poll until Locust exits (True) or ``deadline_s`` passes (False), ticking each second."""
    start = next_tick = time.monotonic()
    while proc.poll() is None:
        now = time.monotonic()
        if deadline_s is not None and now - start > deadline_s:
            return False
        if now >= next_tick:
            tick()
            next_tick = now + every_s
        time.sleep(0.1)
    return True


def _show(printer: ProgressPrinter | None, tail: RunTail, total_s: float | None) -> None:
    if printer is not None:
        printer.show(tail.poll(total_s=total_s))


def _record_commands(path: Path, stub: StubProcess | None, locust_argv: list[str]) -> None:
    lines = ([shlex.join(stub.argv)] if stub else []) + [shlex.join(locust_argv)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no Locust log)"
