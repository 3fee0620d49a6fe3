"""Plotly figures of the run over time (builders only: no I/O; ``report`` writes them).

Every time axis is seconds since the run's t0; stages are shaded and labelled, surge and
fault onsets drawn as dashed lines.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import plotly.graph_objects as go

from analysis.latency import OUTCOMES
from analysis.metrics import percentile_column
from analysis.pipeline import RunAnalysis

STAGE_COLOURS: Final = ("rgba(99,110,250,0.07)", "rgba(0,204,150,0.07)")
HEIGHT_PX: Final = 360


def _base(title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        height=HEIGHT_PX,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        xaxis_title="time since start (s)",
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return fig


def decorate_time_axis(fig: go.Figure, analysis: RunAnalysis) -> go.Figure:
    """Shade stages and mark surge/fault onsets.

    Shapes are built as plain dicts and set once: ``add_vrect`` re-validates every existing
    shape on each call, quadratic in the number of stages.
    """
    shapes: list[dict[str, Any]] = list(fig.layout.shapes or ())
    notes: list[dict[str, Any]] = list(fig.layout.annotations or ())
    for i, stage in enumerate(analysis.stages):
        shapes.append(
            {"type": "rect", "xref": "x", "yref": "paper", "x0": stage.t_start_s,
             "x1": stage.t_end_s, "y0": 0, "y1": 1, "fillcolor": STAGE_COLOURS[i % 2],
             "line": {"width": 0}, "layer": "below"}
        )  # fmt: skip
        notes.append(
            {"x": stage.t_start_s, "y": 1, "xref": "x", "yref": "paper", "text": stage.name,
             "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"size": 10}}
        )  # fmt: skip
    for surge in analysis.surges:
        shapes.append(
            {"type": "line", "xref": "x", "yref": "paper", "x0": surge.t_onset_s,
             "x1": surge.t_onset_s, "y0": 0, "y1": 1,
             "line": {"dash": "dash", "color": "firebrick", "width": 1}}
        )  # fmt: skip
    fig.update_layout(shapes=shapes, annotations=notes)
    return fig


def throughput_figure(analysis: RunAnalysis) -> go.Figure:
    ps = analysis.per_second
    t = ps["t_start_s"].to_numpy()
    fig = _base("Offered vs achieved load", "requests/s")
    if analysis.run.source == "locust_csv":
        fig.add_scatter(x=t, y=ps["achieved_rps"], name="completed (Locust)", mode="lines")
        fig.add_scatter(x=t, y=ps["users"], name="users", mode="lines", yaxis="y2")
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "users"})
        return decorate_time_axis(fig, analysis)
    fig.add_scatter(x=t, y=ps["offered_rps"], name="offered (by start)", mode="lines")
    fig.add_scatter(x=t, y=ps["achieved_rps"], name="achieved (ok, by completion)", mode="lines")
    fig.add_scatter(x=t, y=ps["goodput_rps"], name="goodput (met every SLO)", mode="lines")
    offered = analysis.run.offered
    if offered is not None and offered["target_rps"].notna().any():
        fig.add_scatter(
            x=offered["t_s"], y=offered["target_rps"], name="target rate", mode="lines",
            line={"dash": "dot", "color": "grey"},
        )  # fmt: skip
    if offered is not None and offered["target_users"].notna().any():
        fig.add_scatter(
            x=offered["t_s"], y=offered["target_users"], name="target users", mode="lines",
            line={"dash": "dot", "color": "grey"}, yaxis="y2",
        )  # fmt: skip
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "users"})
    return decorate_time_axis(fig, analysis)


def latency_figure(analysis: RunAnalysis) -> go.Figure:
    ps = analysis.per_second
    t = ps["t_start_s"].to_numpy()
    fig = _base("Latency percentiles per second (by request start)", "ms (log)")
    fig.update_yaxes(type="log")
    if analysis.run.source == "locust_csv":
        for name in ("p50", "p95", "p99"):
            fig.add_scatter(x=t, y=ps[f"response_{name}_ms"], name=f"Locust response {name}")
        return decorate_time_axis(fig, analysis)
    series: list[tuple[str, float]] = [
        ("ttft", 50), ("ttft", 95), ("ttft", 99), ("tpot", 95), ("e2e", 95),
    ]  # fmt: skip
    if analysis.open_loop:
        series.append(("ttft_intended", 95))
    for metric, q in series:
        column = percentile_column(metric, q)
        if column in ps and np.isfinite(ps[column].to_numpy()).any():
            fig.add_scatter(x=t, y=ps[column], name=f"{metric} p{q}", mode="lines")
    # Thresholds as traces, not shapes: shape and annotation positions on a log axis are in
    # log10 units, an easy way to draw the line at 10^500.
    span = [float(t[0]), float(t[-1])] if t.size else [0.0, 1.0]
    for target in analysis.slo.targets:
        fig.add_scatter(
            x=span, y=[target.threshold_ms] * 2, name=f"SLO {target.key}", mode="lines",
            line={"dash": "dot", "color": "firebrick", "width": 1},
        )  # fmt: skip
    return decorate_time_axis(fig, analysis)


def errors_figure(analysis: RunAnalysis) -> go.Figure:
    ps = analysis.per_second
    t = ps["t_start_s"].to_numpy()
    fig = _base("Errors per second (by request start)", "requests/s")
    if analysis.run.source == "locust_csv":
        fig.add_scatter(x=t, y=ps["failed_rps"], name="failures (Locust)", mode="lines")
        return decorate_time_axis(fig, analysis)
    started = ps["n_started"].to_numpy() / ps["duration_s"].to_numpy()
    for outcome in OUTCOMES[1:]:
        y = np.nan_to_num(ps[f"{outcome}_frac"].to_numpy()) * started
        fig.add_scatter(x=t, y=y, name=outcome, mode="lines", stackgroup="errors")
    return decorate_time_axis(fig, analysis)


def server_figure(analysis: RunAnalysis) -> go.Figure | None:
    server = analysis.server
    if server is None or server.empty:
        return None
    fig = _base("Server: batch, queue and KV cache", "requests")
    fig.add_scatter(x=server["t_s"], y=server["running"], name="running", mode="lines")
    fig.add_scatter(x=server["t_s"], y=server["waiting"], name="waiting (queue)", mode="lines")
    if server["kv_usage_frac"].notna().any():
        fig.add_scatter(
            x=server["t_s"], y=server["kv_usage_frac"] * 100, name="KV cache used (%)",
            mode="lines", yaxis="y2",
        )  # fmt: skip
        fig.update_layout(
            yaxis2={"overlaying": "y", "side": "right", "title": "KV %", "range": [0, 105]}
        )
    return decorate_time_axis(fig, analysis)


def concurrency_figure(analysis: RunAnalysis) -> go.Figure | None:
    ps = analysis.per_second
    if "in_flight_mean" not in ps:
        return None
    fig = _base("In-flight requests (time average per second)", "requests")
    fig.add_scatter(x=ps["t_start_s"], y=ps["in_flight_mean"], name="in flight", mode="lines")
    return decorate_time_axis(fig, analysis)
