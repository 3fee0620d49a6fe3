"""Flask routes of the LLM view on Locust's web UI app, plus its tab and links in Locust's UI.

Routes (under ``--web-base-path`` like Locust's own, behind ``--web-login`` when enabled):

- ``GET /llm``: the page (``assets/llm.html``: self-contained, no CDN; SVG charts drawn by
  ``assets/llm.js``), polling ``llm/data`` every 2 s;
- ``GET /llm/data?since=SEQ``: JSON ``{run_seq, state, points: [...newer than SEQ], summary}``;
- ``GET /llm/assets/<file>``: the page's script and style;
- ``GET /llm/report``: once the run has stopped, builds ``RUN_DIR/report.html`` (when
  missing or older than the manifest) and serves it.

In Locust's React UI the supported extension points are template arguments: an extra tab
(``extended_tabs`` + ``extended_tables``, rows from ``extended_stats`` added to each
``/stats/requests`` response) and extra links in "Download Data" (``extended_csv_files``).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

import gevent.lock
from flask import Blueprint, Response, jsonify, make_response, request, send_file
from locust.env import Environment
from locust.runners import STATE_STOPPED

from locustfiles.webui.plugin import ViewState
from locustfiles.webui.report_build import build_report, current_environ, is_current
from locustfiles.webui.rundir import REPORT_NAME

log = logging.getLogger(__name__)

ASSETS_DIR: Final = Path(__file__).resolve().parent / "assets"
ASSET_TYPES: Final = {"llm.js": "text/javascript", "llm.css": "text/css"}
TAB_KEY: Final = "llm"
REPORT_TIMEOUT_S: Final = 300.0
View = Callable[..., Response]
_TAB_COLUMNS: Final = (
    ("metric", "Metric"),
    ("window", "Last 10 s"),
    ("p50", "Run p50"),
    ("p95", "Run p95"),
    ("p99", "Run p99"),
    ("slo", "SLO"),
)


def install_routes(environment: Environment, state: ViewState) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    options = environment.parsed_options
    prefix = str(getattr(options, "web_base_path", "") or "").rstrip("/")
    bp = Blueprint("surgebench_llm", __name__, url_prefix=prefix or None)
    guard: Callable[[View], View] = web_ui.auth_required_if_enabled  # untyped in Locust
    report_lock = gevent.lock.BoundedSemaphore(1)

    @bp.route("/llm")
    @guard
    def page() -> Response:
        return send_file(ASSETS_DIR / "llm.html", mimetype="text/html", max_age=0)

    @bp.route("/llm/assets/<name>")
    @guard
    def asset(name: str) -> Response:
        if name not in ASSET_TYPES:
            return make_response(f"unknown asset {name!r}; known: {', '.join(ASSET_TYPES)}", 404)
        return send_file(ASSETS_DIR / name, mimetype=ASSET_TYPES[name], max_age=0)

    @bp.route("/llm/data")
    @guard
    def data() -> Response:
        try:
            since = int(request.args.get("since", "0"))
        except ValueError:
            since = 0
        runner = environment.runner
        return jsonify(
            {
                "run_seq": state.run_seq,
                "state": runner.state if runner is not None else None,
                "points": [p for p in state.history if p["seq"] > since],
                "summary": state.summary,
                "report_ready": _report_ready(environment, state),
            }
        )

    @bp.route("/llm/report")
    @guard
    def report() -> Response:
        run_dir = state.run_dir
        if run_dir is None:
            return _page(404, "No run directory is known for the last run (did a test run?).")
        if not _report_ready(environment, state):
            return _page(409, "The capacity report can be built once the run has stopped.")
        with report_lock:  # one build at a time; later clicks wait and reuse it
            if not is_current(run_dir):
                secret_env = str(getattr(options, "api_key_env", "") or "") or None
                built = build_report(
                    run_dir,
                    timeout_s=REPORT_TIMEOUT_S,
                    environ=current_environ(),
                    secret_env=secret_env,
                )
                log.info("capacity report for %s: %s", run_dir, built.detail)
                if built.path is None:
                    return _page(500, f"The capacity report could not be built: {built.detail}")
        return send_file(run_dir / REPORT_NAME, mimetype="text/html", max_age=0)

    @web_ui.app.after_request
    def add_llm_rows(response: Response) -> Response:
        if request.path != f"{prefix}/stats/requests" or not response.is_json:
            return response
        body = response.get_json()
        # Locust memoizes this response object, so the hook sees its own earlier rows: replace.
        others = [e for e in body.get("extended_stats", []) if e.get("key") != TAB_KEY]
        body["extended_stats"] = [*others, {"key": TAB_KEY, "data": tab_rows(state)}]
        response.set_data(json.dumps(body))
        return response

    web_ui.app.register_blueprint(bp)
    args = web_ui.template_args
    args["extended_tabs"] = [*args.get("extended_tabs", []), {"title": "LLM", "key": TAB_KEY}]
    args["extended_tables"] = [
        *args.get("extended_tables", []),
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in _TAB_COLUMNS]},
    ]
    args["extended_csv_files"] = [
        *args.get("extended_csv_files", []),
        {"href": "./llm", "title": "LLM live charts (TTFT, TPOT, tokens/s, SLOs, server)"},
        {"href": "./llm/report", "title": "Capacity report of the last run (after it stops)"},
    ]


def tab_rows(state: ViewState) -> list[dict[str, str]]:
    """Rows of the "LLM" tab in Locust's UI: exact percentiles, rates, SLO verdicts."""
    summary = state.summary
    if not summary:
        return [_row("No LLM data yet", slo="live charts: open ./llm")]
    slo_by_metric = {s["metric"]: s for s in summary["slo"]}
    rows = []
    for metric, run in summary["run"].items():
        slo = slo_by_metric.get(metric)
        verdict = f"p{slo['q']:g} <= {slo['limit_ms']:g} ms: {slo['status']}" if slo else ""
        rows.append(
            _row(
                f"{metric} (ms)",
                window=_fmt(summary["window"][metric]["p95_ms"], "p95 "),
                p50=_fmt(run["p50_ms"]),
                p95=_fmt(run["p95_ms"]),
                p99=_fmt(run["p99_ms"]),
                slo=verdict,
            )
        )
    last = state.history[-1] if state.history else {}
    totals = summary["totals"]
    rows.append(_row("Output tokens/s", window=_fmt(last.get("output_tps"))))
    rows.append(_row("Completed requests/s", window=_fmt(last.get("completed_rps"))))
    failed = ", ".join(f"{k} {totals[k]}" for k in ("error", "shed", "dropped"))
    rows.append(_row("Requests (run)", window=f"ok {totals['ok']}", slo=failed))
    rows.append(_row("Live charts and report", slo="open ./llm (links under Download Data)"))
    return rows


def _row(metric: str, **cells: str) -> dict[str, str]:
    return {"metric": metric, **{k: cells.get(k, "") for k, _ in _TAB_COLUMNS[1:]}}


def _fmt(value: float | None, prefix: str = "") -> str:
    return "" if value is None else f"{prefix}{value:.4g}"


def _report_ready(environment: Environment, state: ViewState) -> bool:
    runner = environment.runner
    return (
        state.run_dir is not None
        and state.started_s is not None
        and runner is not None
        and runner.state == STATE_STOPPED
    )


def _page(status: int, message: str) -> Response:
    body = (
        "<!doctype html><meta charset='utf-8'><title>LLM report</title>"
        f"<pre style='font:14px monospace;white-space:pre-wrap'>{html.escape(message)}</pre>"
        "<p><a href='../llm'>Back to the LLM view</a></p>"
    )
    return make_response(body, status, {"Content-Type": "text/html; charset=utf-8"})
