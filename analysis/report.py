"""Write ``report.html`` and ``summary.json`` for a run (the only module that writes files).

Files written into the output directory (default: the run directory):
- ``report.html``: self-contained page (plotly.js inlined; opens with no network).
- ``summary.json``: ``analysis.summary.SummaryV1`` (schema_version 1), units in field names:
  ``_ms`` milliseconds, ``_rps`` requests/s, ``_tps`` tokens/s, ``_frac`` fractions in [0, 1],
  ``_s`` seconds since the run's t0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from plotly.offline import get_plotlyjs

from analysis.curve_figures import saturation_figure, surge_figure, usl_figure
from analysis.figures import (
    concurrency_figure,
    errors_figure,
    latency_figure,
    server_figure,
    throughput_figure,
)
from analysis.io import load_run
from analysis.page import render_page
from analysis.pipeline import AnalysisOptions, RunAnalysis, analyse
from analysis.summary import SummaryV1, build_summary

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportResult:
    analysis: RunAnalysis
    summary: SummaryV1
    report_path: Path
    summary_path: Path


def render_report(analysis: RunAnalysis, summary: SummaryV1) -> str:
    """The report page for an analysed run (no file written)."""
    time_figures = [
        throughput_figure(analysis),
        latency_figure(analysis),
        errors_figure(analysis),
        concurrency_figure(analysis),
        server_figure(analysis),
    ]
    load_figures = [saturation_figure(analysis), usl_figure(analysis)]
    return render_page(
        analysis, summary, plotly_js=get_plotlyjs(), time_figures=time_figures,
        load_figures=load_figures, surge_fig=surge_figure(analysis),
    )  # fmt: skip


def write_report(
    run_dir: str | Path,
    options: AnalysisOptions | None = None,
    out_dir: str | Path | None = None,
) -> ReportResult:
    """Load, analyse and write ``report.html`` + ``summary.json`` into ``out_dir``."""
    run = load_run(run_dir)
    analysis = analyse(run, options)
    summary = build_summary(analysis)
    target = Path(out_dir) if out_dir is not None else run.path
    target.mkdir(parents=True, exist_ok=True)
    summary_path = target / "summary.json"
    report_path = target / "report.html"
    summary_path.write_text(summary.model_dump_json(indent=2) + "\n")
    report_path.write_text(render_report(analysis, summary), encoding="utf-8")
    log.info("wrote %s and %s", report_path, summary_path)
    return ReportResult(analysis, summary, report_path, summary_path)
