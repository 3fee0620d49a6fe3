"""The report page as one HTML string (pure; ``report`` writes it).

Self-contained: the caller passes plotly.js in, it is inlined in a <script> element, and no
external resource (CDN, font, image) is referenced, so the page opens with no network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any, Final

import plotly.graph_objects as go

from analysis.methodology import METHODOLOGY_HTML
from analysis.pipeline import RunAnalysis
from analysis.summary import SummaryV1

_CSS: Final = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:0 24px 48px;color:#1f2328}
h1{margin:24px 0 4px} h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
th{background:#f6f8fa} td.l,th.l{text-align:left}
.badge{display:inline-block;padding:4px 12px;border-radius:12px;color:#fff;font-weight:600}
.pass{background:#1a7f37} .fail{background:#cf222e} .invalid{background:#9a6700}
.muted{color:#59636e;font-size:13px} ul{margin:4px 0}
"""
_STAGE_COLUMNS: Final = (
    ("label", "stage"), ("warmup_s", "warm-up s"), ("n_finished", "requests"),
    ("offered_rps", "offered req/s"), ("achieved_rps", "achieved req/s"),
    ("goodput_rps", "goodput req/s"), ("output_tps", "output tok/s"),
    ("in_flight_mean", "in flight"), ("error_frac", "errors"), ("shed_frac", "shed"),
    ("ttft_p50_ms", "TTFT p50"), ("ttft_p95_ms", "TTFT p95"), ("ttft_p99_ms", "TTFT p99"),
    ("tpot_p95_ms", "TPOT p95"), ("itl_p95_ms", "ITL p95"), ("e2e_p95_ms", "E2E p95"),
    ("slo_attainment_frac", "SLO attainment"), ("slo_met", "SLO met"),
)  # fmt: skip


def fmt(value: Any, unit: str = "") -> str:
    """3 significant digits below 1,000, whole numbers above; fractions as %; None/NaN: a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "%":
        return f"{100 * float(value):.2f}%"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1e3 else f"{value:,.0f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; with an all-empty ``header`` a key/value table without a header row."""
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{h}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i == 0 else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )  # fmt: skip
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _list(items: Sequence[str]) -> str:
    if not items:
        return '<span class="muted">none</span>'
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _figure(fig: go.Figure | None) -> str:
    if fig is None:
        return ""
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def summary_section(analysis: RunAnalysis, summary: SummaryV1) -> str:
    m = analysis.run.manifest
    profile = m.profile.name if m.profile else "unknown"
    target = m.target.url if m.target and m.target.url else "unknown"
    slo = ", ".join(f"{k} = {v:g}" for k, v in summary.slo.items())
    overall = summary.overall
    loop = "open loop" if summary.open_loop else "closed loop"
    achieved, goodput = fmt(overall.get("achieved_rps")), fmt(overall.get("goodput_rps"))
    rows = [
        ("run", html.escape(m.run_id)),
        ("source", html.escape(summary.source)),
        ("profile", f"{html.escape(profile)} ({loop})"),
        ("target", html.escape(target)),
        ("started", html.escape(m.started_at or "unknown")),
        ("requests", fmt(overall.get("n_finished"))),
        ("achieved / goodput", f"{achieved} / {goodput} req/s"),
        ("SLO", f"{html.escape(slo)} <span class='muted'>({summary.slo_source})</span>"),
        ("SLO attainment", fmt(overall.get("slo_attainment_frac"), "%")),
    ]  # fmt: skip
    v = summary.validity
    badge = f'<span class="badge {summary.verdict}">{summary.verdict.upper()}</span>'
    return (
        f"<h2>Summary</h2><p>{badge} "
        '<span class="muted">pass = the steady state of every stage meets the SLO</span></p>'
        + _table(("", ""), rows)
        + f"<h3>Validity</h3><p>client-limited: {fmt(v.client_limited)}</p>"
        + f"<p>reasons the run is invalid:</p>{_list(v.reasons)}"
        + f"<p>warnings:</p>{_list(v.warnings)}<p>not available:</p>{_list(v.missing)}"
    )


def stage_section(summary: SummaryV1) -> str:
    header = [label for _, label in _STAGE_COLUMNS]
    rows = []
    for stage in summary.stages:
        cells = []
        for key, _ in _STAGE_COLUMNS:
            unit = "%" if key.endswith("_frac") else ""
            cells.append(fmt(stage.get(key), unit))
        rows.append(cells)
    note = '<p class="muted">Steady state of each stage (warm-up trimmed); latencies in ms.</p>'
    return "<h2>Stages</h2>" + note + _table(header, rows)


def saturation_section(summary: SummaryV1, figures: Sequence[go.Figure | None]) -> str:
    sat = summary.saturation
    if sat is None:
        return "<h2>Saturation</h2><p>Not available: no per-request records.</p>"
    usl = sat.usl
    usl_text = html.escape(sat.usl_note)
    if usl is not None:
        usl_text = (
            f"α = {usl.alpha:.4g}, β = {usl.beta:.4g}, γ = {usl.gamma:.4g}, "
            f"N_max = {fmt(usl.n_max)}, R² = {usl.r2:.3f}"
        )
    rows = [
        ("status", html.escape(sat.status)),
        ("load points from", html.escape(sat.points_from)),
        ("max sustainable load", f"{fmt(sat.max_sustainable_rps)} req/s "
         f"({sat.ci_level:.0%} CI {fmt(sat.ci_low_rps)} – {fmt(sat.ci_high_rps)})"),
        ("SLO crossing", f"{fmt(sat.slo_crossing_x)} {sat.x_unit} "
         f"({html.escape(sat.first_broken_target or '–')} first)"),
        ("knee (achieved/offered < 0.95)",
         f"{fmt(sat.knee_x)} {sat.x_unit}, {fmt(sat.knee_rps)} req/s"),
        ("USL", usl_text),
        ("limiter", f"{html.escape(sat.limiter or 'unknown (no server metrics)')} "
         f"<span class='muted'>{html.escape(sat.limiter_evidence or '')}</span>"),
    ]  # fmt: skip
    return "<h2>Saturation</h2>" + _table(("", ""), rows) + "".join(map(_figure, figures))


def surge_section(summary: SummaryV1, figure: go.Figure | None) -> str:
    if not summary.surges:
        return "<h2>Surges and faults</h2><p>No surge or fault onset in this run.</p>"
    header = (
        "onset", "kind", "t (s)", "to violation (s)", "violated (s)", "recover (s)",
        "peak in flight", "drain (s)", "requests", "failed", "shed", "dropped", "abandoned",
        "burn rate",
    )  # fmt: skip
    rows = [
        [html.escape(s.label), html.escape(s.kind), fmt(s.t_onset_s), fmt(s.onset_to_violation_s),
         fmt(s.violation_s), fmt(s.time_to_recover_s) if s.recovered else "not recovered",
         fmt(s.peak_in_flight), fmt(s.drain_s), fmt(s.requests), fmt(s.failed), fmt(s.shed),
         fmt(s.dropped), fmt(s.abandoned), fmt(s.burn_rate)]
        for s in summary.surges
    ]  # fmt: skip
    return "<h2>Surges and faults</h2>" + _table(header, rows) + _figure(figure)


def capacity_section(summary: SummaryV1) -> str:
    cap = summary.capacity
    if cap is None:
        return f"<h2>Capacity plan</h2><p>Not available: {html.escape(summary.capacity_note)}</p>"

    def rng(c: Any) -> str:
        return f"{c.value} <span class='muted'>({c.low} – {c.high})</span>"

    cost = "give a price per GPU-hour" if cap.cost_per_hour is None else (
        f"{fmt(cap.cost_per_hour)} ({fmt(cap.cost_per_hour_range[0])} – "
        f"{fmt(cap.cost_per_hour_range[1])})" if cap.cost_per_hour_range else fmt(cap.cost_per_hour)
    )  # fmt: skip
    note = html.escape(cap.note)
    rows = [
        ("peak load", f"{fmt(cap.peak_rps)} req/s <span class='muted'>{note}</span>"),
        ("per-replica capacity under the SLO", f"{fmt(cap.per_replica_rps)} req/s (CI "
         f"{fmt(cap.per_replica_ci_rps[0])} – {fmt(cap.per_replica_ci_rps[1])})"),
        ("target utilisation", fmt(cap.utilisation_frac, "%")),
        ("scaling efficiency", f"{fmt(cap.scaling_efficiency_frac, '%')} ({cap.scaling_source})"),
        ("replicas for the normal peak", rng(cap.replicas_normal)),
        ("surge headroom multiplier m", fmt(cap.headroom_multiplier)),
        ("replicas with surge headroom", rng(cap.replicas_surge)),
        ("replicas with surge headroom and N+1", rng(cap.replicas_n_plus_1)),
        ("Erlang C cross-check (normal peak)", fmt(cap.replicas_erlang_c)),
        ("GPUs", rng(cap.gpus)),
        ("cost per hour", cost),
    ]  # fmt: skip
    caveats = _list(cap.caveats)
    return "<h2>Capacity plan</h2>" + _table(("", ""), rows) + f"<p>caveats:</p>{caveats}"


def render_page(
    analysis: RunAnalysis,
    summary: SummaryV1,
    *,
    plotly_js: str,
    time_figures: Sequence[go.Figure | None],
    load_figures: Sequence[go.Figure | None],
    surge_fig: go.Figure | None,
) -> str:
    title = f"surgebench report: {html.escape(summary.run_id)}"
    body = (
        f"<h1>{title}</h1>"
        + summary_section(analysis, summary)
        + stage_section(summary)
        + "<h2>Time series</h2>"
        + "".join(map(_figure, time_figures))
        + saturation_section(summary, load_figures)
        + surge_section(summary, surge_fig)
        + capacity_section(summary)
        + METHODOLOGY_HTML
    )
    # "</script" inside the inlined library would end the element early; plotly's bundle
    # does not contain it, but escaping keeps that true for any version.
    js = plotly_js.replace("</script", "<\\/script")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style><script>{js}</script></head><body>{body}</body></html>"
    )
