"""Wires surgebench into Locust's event bus: options, run context, files, health, open loop.

Entry files call ``install(events)`` once. Per process (``register`` at ``init``):

- master or local runner, at ``test_start``: decides the run id, run directory and t0
  (``t0_epoch_s`` = now), writes ``manifest.json``, sends the run context to the workers
  (Locust delivers it before their spawn message, so before any user starts), writes
  ``offered.csv`` once a second, re-publishes the open-loop rate, samples its own CPU;
  at ``test_stop`` and again at ``quit`` (after the workers' final reports) it finalises the
  manifest.
- local runner or worker: builds the client side (workload, connection pool, record sink,
  open-loop generator), flushes records every 0.5 s, samples CPU once a second (workers send
  it to the master with their schedule lag and drops); flushes and closes at stop and quit.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import gevent
from locust.runners import MasterRunner, WorkerRunner

from locustfiles import webui
from locustfiles.client_setup import (
    manifest_model,
    open_loop_active,
    start_generator,
    start_requests,
)
from locustfiles.connection import api_endpoint
from locustfiles.health import LAG_P99_LIMIT_MS, CpuSampler, HealthLedger
from locustfiles.manifest import (
    build_manifest,
    iso_utc,
    profile_section,
    read_manifest,
    write_manifest,
)
from locustfiles.offered import OfferedWriter
from locustfiles.open_loop import RATE_MESSAGE, on_rate_message, publish_rate
from locustfiles.options import LoadOptions, add_arguments
from locustfiles.runtime import ProcessState, Role, RunContext, attach_state, state_of
from locustfiles.timing import RunClock

logger = logging.getLogger(__name__)

RUN_MESSAGE: Final = "surgebench_run"
STAGE_MESSAGE: Final = "surgebench_stage"
HEALTH_MESSAGE: Final = "surgebench_health"
FLUSH_INTERVAL_S: Final = 0.5
TICK_INTERVAL_S: Final = 1.0
EXIT_CONFIG_ERROR: Final = 3


def install(events: Any) -> None:
    """Register the options and the per-process set-up on Locust's event hooks.

    Idempotent: ``locust -f locustfiles/`` loads chat.py and mixed.py, which both call it,
    and a second registration would add every option twice (an argparse conflict).
    """
    if getattr(events, "_surgebench_installed", False):
        return
    events._surgebench_installed = True
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(_on_init)


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if runner is None:
        return
    register(environment)
    webui.register(environment)


def register(environment: Any) -> None:
    runner = environment.runner
    role: Role = (
        "master"
        if isinstance(runner, MasterRunner)
        else "worker"
        if isinstance(runner, WorkerRunner)
        else "local"
    )
    state = ProcessState(environment, role)
    attach_state(environment, state)
    if role != "worker" and environment.parsed_options is not None:
        try:
            LoadOptions.from_namespace(environment.parsed_options)
        except ValueError as exc:
            logger.error("invalid surgebench option: %s", exc)
            raise SystemExit(EXIT_CONFIG_ERROR) from exc
    if role == "master":
        runner.register_message(HEALTH_MESSAGE, _on_health_message)
    elif role == "worker":
        runner.register_message(RUN_MESSAGE, _on_run_message)
        runner.register_message(RATE_MESSAGE, on_rate_message)
        runner.register_message(STAGE_MESSAGE, _on_stage_message)
    events = environment.events
    events.test_start.add_listener(lambda **_: _on_test_start(state))
    events.test_stop.add_listener(lambda **_: _on_test_stop(state))
    events.quit.add_listener(lambda **_: _on_quit(state))


def _on_run_message(environment: Any, msg: Any, **_: Any) -> None:
    state = state_of(environment)
    state.context = RunContext.from_message(msg.data)
    state.clock = RunClock.starting_at(state.context.t0_epoch_s)
    state.run_id, state.run_dir = state.context.run_id, Path(state.context.run_dir)


def _on_stage_message(environment: Any, msg: Any, **_: Any) -> None:
    state_of(environment).pushed_stage = msg.data.get("stage")


def _on_health_message(environment: Any, msg: Any, **_: Any) -> None:
    state_of(environment).ledger.merge_report(msg.data)


def _on_test_start(state: ProcessState) -> None:
    try:
        options = LoadOptions.from_namespace(state.environment.parsed_options)
        state.options = options
        state.profile = profile_of(state.environment.shape_class)
        state.open_loop = open_loop_active(state)
        state.ledger = HealthLedger()
        if state.role == "worker":
            _join_run(state, options)
            _start_client_side(state, options)
        else:
            _coordinate(state, options)
    except (ValueError, OSError) as exc:
        logger.error("surgebench could not start the run: %s", exc)
        state.environment.process_exit_code = EXIT_CONFIG_ERROR
        gevent.spawn(state.environment.runner.quit)


def _start_client_side(state: ProcessState, options: LoadOptions) -> None:
    """Local runner or worker: the client side, then (once t0 is known) the generator."""
    start_requests(state, options)
    _collect_start_up_garbage()
    if state.clock is None:
        _decide_t0(state)
    start_generator(state, options)
    state.background.append(gevent.spawn(_flush_loop, state))
    if state.role == "worker":
        state.background.append(gevent.spawn(_worker_health_loop, state))


def _collect_start_up_garbage() -> None:
    """A full collection of Locust's and gevent's start-up heap stalls every stream of the
    process for tens of ms (measured: 66 ms at 100 streams), inflating TTFT and ITL. Collect
    once now, before any request, and freeze the survivors so that later collections only
    walk what the run allocates."""
    gc.collect()
    gc.freeze()


def profile_of(shape: Any) -> Any:
    """The ``profiles.base.Profile`` behind a ProfileShape, else None."""
    profile = getattr(shape, "profile", None)
    if profile is not None and hasattr(profile, "stage_at") and hasattr(profile, "boundaries"):
        return profile
    return None


def _coordinate(state: ProcessState, options: LoadOptions) -> None:
    """Master or local runner: run directory, manifest, t0, run context to the workers.

    t0 is taken last, after every slow step (model discovery, git, the local client side and
    its garbage collection), because the profile shape's clock starts right after the
    ``test_start`` listeners return: run time and shape time then differ by about a
    millisecond rather than by the set-up time.
    """
    env = state.environment
    if not env.host:
        raise ValueError("no target: pass --host (the base URL, e.g. http://127.0.0.1:8000)")
    name = getattr(state.profile, "name", None) or "run"
    run_id = f"{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{name}"
    run_dir = Path(options.run_dir or Path("results") / run_id).resolve()
    if (run_dir / "manifest.json").exists():
        raise ValueError(f"{run_dir} already holds a run (manifest.json); choose a new --run-dir")
    state.run_id, state.run_dir = run_id, run_dir
    endpoint = api_endpoint(env.host, options.api_prefix)
    manifest = build_manifest(
        run_id=run_id,
        t0_epoch_s=0.0,
        options=options,
        model=manifest_model(options, endpoint),
        target_url=endpoint.display_url,
        image_url=(
            api_endpoint(options.image_host, options.api_prefix).display_url
            if options.image_host
            else None
        ),
        target_kind=options.target_kind,
        profile=state.profile,
        processes=env.runner.worker_count if state.role == "master" else 1,
    )
    if state.role == "local":
        _start_client_side(state, options)  # decides t0 after its own set-up
    else:
        _decide_t0(state)
    assert state.context is not None
    manifest["t0_epoch_s"] = state.context.t0_epoch_s
    manifest["started_at"] = iso_utc(state.context.t0_epoch_s)
    write_manifest(run_dir, manifest)
    logger.info("surgebench run %s -> %s", run_id, run_dir)
    if state.role == "master":
        env.runner.send_message(RUN_MESSAGE, state.context.to_message())
    if state.open_loop:
        total = state.total_rate_rps if state.total_rate_rps is not None else options.rate_rps
        publish_rate(env, total, state.pushed_stage)
    offered = OfferedWriter(run_dir)
    state.background.append(gevent.spawn(_coordinator_loop, state, offered))


def _decide_t0(state: ProcessState) -> None:
    assert state.run_id is not None and state.run_dir is not None
    t0_epoch_s = time.time()
    state.context = RunContext(state.run_id, str(state.run_dir), t0_epoch_s)
    state.clock = RunClock.starting_at(t0_epoch_s)


def _join_run(state: ProcessState, options: LoadOptions) -> None:
    """Worker: identity and the master's run context (received before the spawn message)."""
    runner = state.environment.runner
    state.process_id = f"worker-{runner.worker_index}-{os.getpid()}"
    if state.context is None:
        # A worker that joined without the master's run message (should not happen with
        # Locust's ordered channel): fall back to the manifest on a shared filesystem.
        run_dir = Path(options.run_dir) if options.run_dir else None
        if run_dir is None or not (run_dir / "manifest.json").exists():
            raise ValueError("no run context from the master and no readable --run-dir manifest")
        manifest = read_manifest(run_dir)
        state.context = RunContext(manifest["run_id"], str(run_dir), manifest["t0_epoch_s"])
        state.clock = RunClock.starting_at(state.context.t0_epoch_s)
    state.run_id, state.run_dir = state.context.run_id, Path(state.context.run_dir)


def _coordinator_loop(state: ProcessState, offered: OfferedWriter) -> None:
    """Master/local, once a second: offered.csv row, rate re-publish, CPU sample."""
    env = state.environment
    cpu = CpuSampler()
    assert state.clock is not None
    try:
        while True:
            gevent.sleep(TICK_INTERVAL_S)
            t_s = state.clock.now_s()
            # Adaptive profiles (search) replace their stages as they run: re-read each tick.
            state.profile = profile_of(env.shape_class)
            stage = state.stage_at(t_s)
            if state.role == "master":
                env.runner.send_message(STAGE_MESSAGE, {"stage": stage})
            open_loop = state.open_loop
            rate_profile = state.profile is not None and state.profile.mode == "rate"
            if rate_profile:
                state.total_rate_rps = float(state.profile.target_at(t_s))
            elif open_loop and state.role == "master" and state.total_rate_rps is not None:
                # --rate: re-send each worker its share (workers may join or leave).
                publish_rate(env, state.total_rate_rps, stage)
            target_users: float | None = None
            if not open_loop:
                if state.profile is not None:
                    target_users = float(state.profile.target_at(t_s))
                else:
                    target_users = float(env.runner.target_user_count or 0)
            offered.row(
                t_s=t_s,
                stage=stage,
                target_users=target_users,
                target_rps=state.total_rate_rps if open_loop else None,
                actual_users=int(env.runner.user_count),
            )
            state.ledger.add_cpu(state.process_id, cpu.sample_frac())
            _warn_lag(state.ledger)
    finally:
        offered.close()


def _flush_loop(state: ProcessState) -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        if state.sink is not None:
            state.sink.flush()


def _worker_health_loop(state: ProcessState) -> None:
    cpu = CpuSampler()
    while True:
        gevent.sleep(TICK_INTERVAL_S)
        _send_health(state, cpu.sample_frac())


def _send_health(state: ProcessState, cpu_frac: float | None) -> None:
    if cpu_frac is not None:
        state.ledger.add_cpu(state.process_id, cpu_frac)
    _warn_lag(state.ledger)
    state.environment.runner.send_message(HEALTH_MESSAGE, state.ledger.report())


def _warn_lag(ledger: HealthLedger) -> None:
    lag = ledger.lag_p99_ms()
    if lag is not None and lag > LAG_P99_LIMIT_MS:
        ledger.warn(f"schedule lag p99 above {LAG_P99_LIMIT_MS:.0f} ms")


def _on_test_stop(state: ProcessState) -> None:
    if state.generator is not None:
        state.generator.stop()
        state.generator = None
    for greenlet in state.background:
        greenlet.kill(block=False)
    state.background = []
    # Locust has stopped the users before test_stop, so every record is in: close the files
    # (a web UI run may start another test, with its own run directory).
    _close_client_side(state)
    if state.role == "worker" and state.context is not None:
        _send_health(state, None)
    if state.role != "worker":
        _finalise(state)


def _on_quit(state: ProcessState) -> None:
    _close_client_side(state)
    if state.role != "worker":
        _finalise(state)


def _close_client_side(state: ProcessState) -> None:
    if state.sink is not None:
        state.sink.close()
        state.sink = None
    for pool in (state.pool, state.image_pool):
        if pool is not None:
            pool.close()


def _finalise(state: ProcessState) -> None:
    if state.context is None:
        return
    run_dir = Path(state.context.run_dir)
    try:
        manifest = read_manifest(run_dir)
    except (OSError, ValueError) as exc:
        logger.error("cannot finalise %s/manifest.json: %s", run_dir, exc)
        return
    processes = manifest.get("loadgen", {}).get("processes", 1)
    profile = profile_of(state.environment.shape_class)
    if profile is not None:
        # The profile actually run (an adaptive search only knows its stages at the end).
        manifest["profile"], manifest["stages"] = profile_section(profile)
    manifest["finished_at"] = iso_utc(time.time())
    manifest["loadgen"] = state.ledger.summary(processes)
    manifest["validity"] = state.ledger.validity()
    write_manifest(run_dir, manifest)
