"""Plotly figures against load: saturation curves, the USL fit, the surge timeline (no I/O)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures import HEIGHT_PX
from analysis.metrics import percentile_column, violated
from analysis.pipeline import RunAnalysis
from analysis.usl import usl_throughput


def saturation_figure(analysis: RunAnalysis) -> go.Figure | None:
    sat = analysis.saturation
    if sat is None or sat.points.table.empty:
        return None
    table = sat.points.table
    unit = "req/s" if sat.points.x_unit == "rps" else "users"
    x = table["x"].to_numpy()
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Throughput vs offered load", "Latency vs offered load")
    )
    fig.add_scatter(
        x=x, y=table["achieved_rps"], name="achieved", mode="lines+markers", row=1, col=1
    )
    fig.add_scatter(x=x, y=table["goodput_rps"], name="goodput", mode="lines+markers", row=1, col=1)
    if sat.points.x_unit == "rps":
        fig.add_scatter(
            x=x, y=x, name="offered (y = x)", mode="lines", line={"dash": "dot", "color": "grey"},
            row=1, col=1,
        )  # fmt: skip
    ms = sat.max_sustainable
    if ms.estimate > 0:
        fig.add_hrect(
            y0=ms.low, y1=ms.high, fillcolor="rgba(0,150,0,0.12)", line_width=0, row=1, col=1,
        )  # fmt: skip
        fig.add_hline(
            y=ms.estimate, line_color="green", line_dash="dash", row=1, col=1,
            annotation_text=f"max sustainable {ms.estimate:.3g} req/s",
        )  # fmt: skip
    if sat.knee_x is not None:
        fig.add_vline(x=sat.knee_x, line_color="orange", line_dash="dot", row=1, col=1)
    for target in analysis.slo.targets:
        column = percentile_column(target.metric, target.quantile_pct)
        if column in table:
            fig.add_scatter(
                x=x, y=table[column], name=target.key, mode="lines+markers", row=1, col=2
            )
            fig.add_scatter(
                x=[float(x[0]), float(x[-1])], y=[target.threshold_ms] * 2, mode="lines",
                name=f"SLO {target.key}", line={"dash": "dot", "color": "firebrick", "width": 1},
                row=1, col=2,
            )  # fmt: skip
    if sat.crossing.x is not None:
        fig.add_vline(x=sat.crossing.x, line_color="firebrick", line_dash="dash", row=1, col=2)
    fig.update_yaxes(type="log", title_text="ms (log)", row=1, col=2)
    fig.update_yaxes(title_text="req/s", row=1, col=1)
    fig.update_xaxes(title_text=f"offered ({unit})")
    fig.update_layout(
        height=HEIGHT_PX + 80,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.3},
        margin={"b": 110},
    )
    return fig


def usl_figure(analysis: RunAnalysis) -> go.Figure | None:
    """Throughput (with the USL fit) and SLO latencies against concurrency in the server."""
    sat = analysis.saturation
    if sat is None or sat.points.table.empty:
        return None
    table = sat.points.table
    n = table["concurrency"].to_numpy()
    fig = make_subplots(
        rows=1, cols=2,
        subplot_titles=("Throughput vs concurrency (USL fit)", "Latency vs concurrency"),
    )  # fmt: skip
    fig.add_scatter(x=n, y=table["achieved_rps"], name="measured", mode="markers", row=1, col=1)
    if sat.usl is not None:
        u = sat.usl
        top = max(float(np.nanmax(n)) * 1.3, min(u.n_max, float(np.nanmax(n)) * 3))
        grid = np.linspace(max(float(np.nanmin(n)) * 0.5, 1e-3), top, 200)
        fig.add_scatter(
            x=grid, y=usl_throughput(grid, u.alpha, u.beta, u.gamma), mode="lines",
            name=f"USL α={u.alpha:.3g} β={u.beta:.3g} γ={u.gamma:.3g}", row=1, col=1,
        )  # fmt: skip
    order = np.argsort(n)
    for target in analysis.slo.targets:
        column = percentile_column(target.metric, target.quantile_pct)
        if column in table:
            y = table[column].to_numpy()[order]
            fig.add_scatter(x=n[order], y=y, name=f"{target.key} vs N", mode="lines+markers",
                            row=1, col=2)  # fmt: skip
    fig.update_xaxes(title_text="concurrency N = X × mean E2E (Little's law)")
    fig.update_yaxes(title_text="req/s", row=1, col=1)
    fig.update_yaxes(title_text="ms (log)", type="log", row=1, col=2)
    fig.update_layout(
        height=HEIGHT_PX + 80,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.3},
        margin={"b": 110},
    )
    return fig


def surge_figure(analysis: RunAnalysis) -> go.Figure | None:
    if not analysis.surges:
        return None
    status = analysis.status
    ps = analysis.per_second
    fig = go.Figure()
    fig.add_scatter(x=ps["t_start_s"], y=ps["in_flight_mean"], name="in flight", mode="lines")
    fig.add_scatter(x=ps["t_start_s"], y=ps["offered_rps"], name="offered req/s", mode="lines")
    broken = status[violated(status["slo_met"])]
    shapes: list[dict[str, Any]] = [
        {"type": "rect", "xref": "x", "yref": "paper", "x0": row.t_start_s, "x1": row.t_end_s,
         "y0": 0, "y1": 1, "fillcolor": "rgba(220,0,0,0.15)", "line": {"width": 0},
         "layer": "below"}
        for row in broken.itertuples(index=False)
    ]  # fmt: skip
    notes: list[dict[str, Any]] = []
    for surge in analysis.surges:
        shapes.append(
            {"type": "line", "xref": "x", "yref": "paper", "x0": surge.t_onset_s,
             "x1": surge.t_onset_s, "y0": 0, "y1": 1,
             "line": {"dash": "dash", "color": "firebrick", "width": 1}}
        )  # fmt: skip
        notes.append(
            {"x": surge.t_onset_s, "y": 1, "xref": "x", "yref": "paper", "text": surge.label,
             "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"size": 10}}
        )  # fmt: skip
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_layout(
        title=f"Surge timeline (red: SLO violated in a {analysis.status_window_s:g}-s window)",
        xaxis_title="time since start (s)",
        height=HEIGHT_PX,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
