"""``surgebench ui``: the stub plus Locust's web UI with every profile's shape selectable.

Both listen on loopback only. Locust runs with ``--class-picker`` and every
``profiles/<builder>.py`` on its ``-f`` list, so the UI offers one LoadTestShape per profile
builder, and the load generator's options in its "Custom parameters" form. Ctrl-C stops
Locust (which finalises any run in progress) and then the stub.

Each run started from the UI gets its own directory, ``results/<run_id>`` (chosen by the
load generator), unless ``--out`` fixes one (then only one run per UI session). Logs:
``<out or results>/ui-logs/stub.log`` and ``ui-logs/locust.log`` (plain text).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from profiles.registry import BUILDERS
from surgebench.exit_code import ExitCode, MissingPartError, UsageError
from surgebench.locust_command import (
    free_loopback_port,
    locust_base_argv,
    locustfile_path,
    shape_file_for,
)
from surgebench.options import check_env_name, parse_target
from surgebench.orchestrate import stop_locust, stub_model
from surgebench.stub_process import StubProcess, start_stub

WEB_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class UiOptions:
    target: str = "stub"
    web_port: int = 8089
    run_dir: Path | None = None
    locustfile: str = "chat"
    replicas: int | None = None
    stub_preset: str | None = None
    stub_args: tuple[str, ...] = ()
    api_key_env: str | None = None
    model: str | None = None
    locust_args: tuple[str, ...] = ()
    ready_timeout_s: float = 60.0


def ui_argv(opts: UiOptions, host: str, web_port: int, model: str | None) -> list[str]:
    files = [str(locustfile_path(opts.locustfile))]
    files += [str(shape_file_for(name)) for name in sorted(BUILDERS)]
    argv = [
        *locust_base_argv(),
        "-f",
        ",".join(files),
        "--class-picker",
        "--host",
        host,
        "--web-host",
        WEB_HOST,
        "--web-port",
        str(web_port),
    ]
    if model:
        argv += ["--model", model]
    if opts.api_key_env:
        argv += ["--api-key-env", opts.api_key_env]
    if opts.run_dir is not None:
        argv += ["--run-dir", str(opts.run_dir.resolve())]
    return argv + list(opts.locust_args)


def serve_ui(opts: UiOptions) -> int:
    """Start everything, print the URL, serve until Ctrl-C (or until Locust exits)."""
    target = parse_target(opts.target)
    check_env_name("--api-key-env", opts.api_key_env)
    if opts.web_port < 0 or opts.web_port > 65535:
        raise UsageError(f"Invalid --web-port {opts.web_port}; allowed: 0 (any free) to 65535")
    if target.kind == "external" and not opts.model:
        raise UsageError(f"--model is required with an external target ({target.url})")
    web_port = opts.web_port or free_loopback_port()
    log_dir = (opts.run_dir or Path("results")) / "ui-logs"
    stub: StubProcess | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        host = target.url or ""
        model = opts.model
        if target.kind == "stub":
            stub_args = [*(("--preset", opts.stub_preset) if opts.stub_preset else ())]
            if opts.replicas is not None:
                stub_args += ["--replicas", str(opts.replicas)]
            stub = start_stub([*stub_args, *opts.stub_args], log_path=log_dir / "stub.log")
            host, model = stub.url, model or stub_model(stub.url, api_key_env=opts.api_key_env)
            print(f"stub: {stub.url}", flush=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "locust.log").open("ab") as logfile:
            proc = subprocess.Popen(
                ui_argv(opts, host, web_port, model),
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://{WEB_HOST}:{web_port}"
        _wait_for_ui(proc, url, opts.ready_timeout_s, log_dir / "locust.log")
        print(f"Locust web UI: {url}  (Ctrl-C to stop)", flush=True)
        print(f"LLM view (TTFT, TPOT, tokens/s, the stub's queue and KV): {url}/llm", flush=True)
        while proc.poll() is None:
            time.sleep(0.2)
        return int(ExitCode.OK) if proc.returncode in (0, 1) else int(ExitCode.USAGE)
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr, flush=True)
        return int(ExitCode.OK)
    finally:
        if proc is not None:
            stop_locust(proc, grace_s=30.0)
        if stub is not None:
            stub.stop()


def _wait_for_ui(proc: subprocess.Popen[bytes], url: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-15:]
            raise UsageError("Locust exited before its web UI was up:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise MissingPartError(f"the Locust web UI did not answer at {url} within {timeout_s:.0f} s")
