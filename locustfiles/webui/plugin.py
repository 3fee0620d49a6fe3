"""Wires the live LLM view into a Locust process (imports locust; reached through ``register``).

Data path, and why: Locust does not forward request events from workers to the master, and
the master's ``environment.stats`` rows for "LLM" only keep percentiles rounded to about two
significant digits. So every process that runs users keeps the raw LLM samples itself:

- local runner (no ``--processes``/``--master``): a request listener feeds the window;
- worker: a request listener buffers samples in a ``SampleBatch`` that rides along in the
  stats report each worker sends every 3 s (``events.report_to_master``, key
  ``surgebench_llm``): no extra message, no extra connection;
- master: ``events.worker_report`` merges each batch; the window ends where every worker
  has reported, so rates are not undercounted by the reporting delay (live figures lag
  real time by up to 3 s in distributed mode).

A sampler greenlet on the master (or local) process turns the window into one point every
``SAMPLE_INTERVAL_S`` while a test runs (and shortly after, for the final reports) and
scrapes the target's ``/metrics``; ``routes`` serves the points as JSON. Without a web UI
(``--headless``) the master/local side installs nothing; workers always ship their samples
(they cannot tell whether the master shows a UI; a batch is 5 numbers per LLM row).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import gevent
from locust.env import Environment
from locust.runners import STATE_STOPPED, MasterRunner, WorkerRunner

from locustfiles.webui import scrape
from locustfiles.webui.rundir import read_offered_tail, run_info_of
from locustfiles.webui.window import (
    METRICS,
    LlmWindow,
    SampleBatch,
    WindowSnapshot,
    classify_failure,
)

log = logging.getLogger(__name__)

STATE_ATTR: Final = "_surgebench_llm_view"
REPORT_KEY: Final = "surgebench_llm"
SAMPLE_INTERVAL_S: Final = 2.0
# The same span as Locust's "current" percentiles (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW).
WINDOW_S: Final = 10.0
BASE_QUANTILES: Final = (50.0, 95.0, 99.0)
RUN_REFRESH_S: Final = 10.0
CHEAP_RUN_SAMPLES: Final = 300_000  # all metrics; below it a refresh costs about 1 ms per metric
HISTORY_POINTS: Final = 3600  # two hours at one point per 2 s
# Keep sampling this long after a stop: workers send their final report within 3 s.
AFTER_STOP_S: Final = 7.0


@dataclass
class ViewState:
    """Mutable per-environment state of the live view on the master (or local) process."""

    window: LlmWindow
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    summary: dict[str, Any] = field(default_factory=dict)
    run_seq: int = 0
    seq: int = 0
    started_s: float | None = None
    stopped_s: float | None = None
    slo_ms: dict[str, float] = field(default_factory=dict)
    run_dir: Path | None = None
    metrics_url: str | None = None
    next_scrape_s: float = 0.0
    gauges: scrape.ServerGauges | None = None
    run_refreshed_s: float = 0.0


def install(environment: Environment) -> None:
    if getattr(environment, STATE_ATTR, None) is not None:
        return  # a locustfile imported twice (as a file and as a module) registers twice
    runner = environment.runner
    events: Any = environment.events  # Locust's EventHook is untyped
    if runner is None:
        log.warning("LLM view not installed: the environment has no runner yet")
        return
    if isinstance(runner, WorkerRunner):
        batch = SampleBatch()
        setattr(environment, STATE_ATTR, batch)
        events.request.add_listener(_sample_listener(batch.add))

        def ship(client_id: str, data: dict[str, Any]) -> None:
            data[REPORT_KEY] = batch.drain(time.time())

        events.report_to_master.add_listener(ship)
        return
    if environment.web_ui is None:
        return  # headless: nobody to show it to, so no sampling work in this process
    state = ViewState(window=LlmWindow(window_s=WINDOW_S, quantiles=BASE_QUANTILES))
    setattr(environment, STATE_ATTR, state)
    if isinstance(runner, MasterRunner):

        def merge(client_id: str, data: dict[str, Any]) -> None:
            wire = data.get(REPORT_KEY)
            if wire:
                state.window.add_batch(client_id, wire)

        events.worker_report.add_listener(merge)
    else:

        def add(metric: str, t_s: float, value_ms: float, tokens: int, outcome: int) -> None:
            state.window.add(metric, t_s, value_ms, tokens, outcome)  # replaced at each start

        events.request.add_listener(_sample_listener(add))
    events.test_start.add_listener(lambda **_: _on_start(environment, state))
    events.test_stop.add_listener(lambda **_: _on_stop(state))
    gevent.spawn(_sampler, environment, state)
    from locustfiles.webui.routes import install_routes

    install_routes(environment, state)


def view_state(environment: Environment) -> ViewState | None:
    state = getattr(environment, STATE_ATTR, None)
    return state if isinstance(state, ViewState) else None


def _sample_listener(add: Any) -> Any:
    """An ``events.request`` listener turning LLM rows and failed requests into samples.

    A successful request arrives as "LLM" rows ``TTFT``, ``TPOT`` and ``E2E`` (the E2E row's
    response_length is the output tokens). A failed request fires only its HTTP row, with
    an exception; it ends one request with a non-ok outcome, classified by
    ``context["error_kind"]``/``context["status"]`` when present, else by the exception
    text (``"<error_kind>: <detail>"``, the recorder's format).
    """

    def on_request(
        *,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        now_s = time.time()
        if exception is None:
            if request_type == "LLM" and name in METRICS:
                add(name, now_s, float(response_time or 0.0), int(response_length or 0), 0)
            return
        add("E2E", now_s, float(response_time or 0.0), 0, classify_failure(str(exception), context))

    return on_request


def _slo_quantile(key: str) -> tuple[str, float]:
    metric, q = key.removesuffix("_ms").split("_p")
    return metric.upper(), float(q)


def _on_start(environment: Environment, state: ViewState) -> None:
    state.started_s = time.time()
    state.window = LlmWindow(window_s=WINDOW_S, quantiles=BASE_QUANTILES, origin_s=state.started_s)
    state.slo_ms = {}
    state.history.clear()
    state.summary = {}
    state.run_seq += 1
    state.stopped_s = None
    state.run_dir = None
    state.gauges = None
    state.next_scrape_s = 0.0
    state.run_refreshed_s = 0.0
    state.metrics_url = _metrics_url(environment)


def _on_stop(state: ViewState) -> None:
    state.stopped_s = time.time()


def _metrics_url(environment: Environment) -> str | None:
    hosts = [environment.host, *(getattr(u, "host", None) for u in environment.user_classes)]
    for host in filter(None, hosts):
        try:
            return scrape.metrics_url(str(host))
        except ValueError:
            continue
    return None


def _sampler(environment: Environment, state: ViewState) -> None:
    while True:
        gevent.sleep(SAMPLE_INTERVAL_S)
        try:
            if _active(environment, state):
                _sample(environment, state, time.time())
        except Exception:  # the view must never take the load test down with it
            log.exception("LLM view sampler failed; continuing")


def _active(environment: Environment, state: ViewState) -> bool:
    runner = environment.runner
    if state.started_s is None or runner is None:
        return False
    if runner.state != STATE_STOPPED:
        return True
    return state.stopped_s is not None and time.time() - state.stopped_s < AFTER_STOP_S


def _sample(environment: Environment, state: ViewState, now_s: float) -> None:
    runner = environment.runner
    assert runner is not None and state.started_s is not None
    if state.run_dir is None:
        # Decided by the generator's own test_start listener, which may run after ours.
        info = run_info_of(environment, since_s=state.started_s)
        if info is not None:
            state.run_dir, state.slo_ms = info.run_dir, dict(info.slo_ms)
            state.window.add_quantiles([_slo_quantile(k)[1] for k in state.slo_ms])
    # Run-wide percentiles are the costly part (see LlmWindow.snapshot): with many samples
    # they are refreshed every 10 s while the run goes on, every time once it has stopped.
    refresh = (
        runner.state == STATE_STOPPED
        or state.window.run_size() <= CHEAP_RUN_SAMPLES
        or now_s - state.run_refreshed_s >= RUN_REFRESH_S
    )
    if refresh:
        state.run_refreshed_s = now_s
    snap = state.window.snapshot(now_s, refresh_run=refresh)
    offered = read_offered_tail(state.run_dir) if state.run_dir else {}
    if state.metrics_url and now_s >= state.next_scrape_s:
        state.gauges = scrape.scrape(state.metrics_url, timeout_s=1.0)
        # A target without /metrics (OpenAI, a proxy) is asked again only now and then.
        state.next_scrape_s = now_s + (0.0 if state.gauges else 15.0)
    state.seq += 1
    point: dict[str, Any] = {
        "seq": state.seq,
        "t_s": round(snap.end_s - state.started_s, 3),
        "state": runner.state,
        "users": runner.user_count,
        # offered.csv is the profile's word once the run writes it (empty cells: not
        # applicable, e.g. no target users in open loop); before that, Locust's own target.
        "target_users": offered.get("target_users") if offered else runner.target_user_count,
        "target_rps": offered.get("target_rps"),
        "stage": offered.get("stage"),
        **{
            f"{m.lower()}_p{int(q)}_ms": snap.window[m].get(q)
            for m in METRICS
            for q in (50.0, 95.0)
        },
        "completed_rps": snap.completed_rps,
        "attempted_rps": snap.attempted_rps,
        "output_tps": snap.output_tps,
        **{f"{o}_frac": f for o, f in snap.outcome_frac.items() if o != "ok"},
    }
    point = {k: round(v, 4) if isinstance(v, float) else v for k, v in point.items()}
    gauges = state.gauges
    if gauges is not None:
        point.update(
            waiting=gauges.waiting,
            running=gauges.running,
            kv_mean_frac=gauges.kv_usage_frac_mean,
            kv_max_frac=gauges.kv_usage_frac_max,
            replicas=dict(gauges.replicas),
        )
    state.history.append(point)
    state.summary = _summary(state, snap)


def _summary(state: ViewState, snap: WindowSnapshot) -> dict[str, Any]:
    slo = []
    for key, limit_ms in sorted(state.slo_ms.items()):
        metric, q = _slo_quantile(key)
        window_ms, run_ms = snap.window[metric].get(q), snap.run[metric].get(q)
        status = "no data" if run_ms is None else ("met" if run_ms <= limit_ms else "breached")
        slo.append(
            {
                "key": key,
                "metric": metric,
                "q": q,
                "limit_ms": limit_ms,
                "window_ms": window_ms,
                "run_ms": run_ms,
                "status": status,
            }
        )
    return {
        "window_s": snap.window_s,
        "run": {
            m: {"n": snap.run[m].n, **{f"p{int(q)}_ms": snap.run[m].get(q) for q in BASE_QUANTILES}}
            for m in METRICS
        },
        "window": {
            m: {
                "n": snap.window[m].n,
                **{f"p{int(q)}_ms": snap.window[m].get(q) for q in BASE_QUANTILES},
            }
            for m in METRICS
        },
        "totals": dict(snap.totals),
        "slo": slo,
        "run_dir": str(state.run_dir) if state.run_dir else None,
        "target_metrics": state.metrics_url,
    }
