"""Headless CI outputs built from a run's verdict (``--ci``).

``ci-summary.md``: GitHub-flavoured Markdown fit for ``$GITHUB_STEP_SUMMARY``: the verdict,
a table of SLOs (threshold and measured p-quantile, ms), validity, the capacity figures and
the surge figures from summary.json, and where the report is.

``junit.xml``: one ``<testsuite name="surgebench">``; one ``<testcase>`` named after each
SLO (``classname="surgebench.slo"``; ``<failure>`` when breached, ``<error>`` when it could
not be judged because the run is invalid or the metric was not measured) plus one
``run_validity`` test case (``<failure>`` when the run is invalid). ``time`` attributes are
the run's measured duration in seconds when summary.json has one, else 0.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from surgebench.verdict import RunVerdict, SloResult

CI_SUMMARY_FILE = "ci-summary.md"
JUNIT_FILE = "junit.xml"

_CAPACITY_ROWS = (
    ("replicas_normal", "replicas for the normal peak"),
    ("replicas_surge", "replicas for the surge"),
    ("replicas_n_plus_1", "replicas for the surge with N+1"),
    ("gpus", "GPUs (surge with N+1)"),
)


def write_ci_outputs(verdict: RunVerdict, run_dir: Path) -> tuple[Path, Path]:
    """Write both files into ``run_dir``; returns their paths (Markdown, JUnit)."""
    md_path = run_dir / CI_SUMMARY_FILE
    md_path.write_text(markdown_summary(verdict, report_path=run_dir / "report.html"), "utf-8")
    junit_path = run_dir / JUNIT_FILE
    junit_path.write_bytes(junit_xml(verdict))
    return md_path, junit_path


def markdown_summary(verdict: RunVerdict, *, report_path: Path | None = None) -> str:
    icon = {0: "✅", 1: "❌", 2: "⚠️"}.get(int(verdict.exit_code), "")
    lines = [f"## surgebench: {verdict.headline} {icon}".rstrip(), ""]
    profile = _profile_name(verdict.raw)
    lines.append(f"Run `{verdict.run_id or '?'}`" + (f", profile `{profile}`" if profile else ""))
    lines.append("")
    if verdict.slo_results:
        lines += [
            "| SLO | threshold | measured (worst stage) | stage | result |",
            "|---|---|---|---|---|",
        ]
        lines += [_slo_row(result, valid=verdict.valid) for result in verdict.slo_results]
    else:
        lines.append("No SLO was set: the run is judged on its validity only.")
    lines.append("")
    if verdict.valid:
        lines.append("**Validity:** valid (the load generator was not the bottleneck).")
    else:
        lines.append("**Validity:** ⚠️ invalid, the numbers above are not trustworthy:")
        lines += [f"- {reason}" for reason in verdict.invalid_reasons]
    capacity_lines = _capacity_lines(verdict)
    if capacity_lines:
        lines += ["", "### Capacity", "", "| figure | value |", "|---|---|", *capacity_lines]
    surge_lines = _surge_lines(verdict.surges)
    if surge_lines:
        lines += ["", "### Surges and faults", "", *surge_lines]
    if report_path is not None:
        lines += [
            "",
            f"Full report: `{report_path}` (self-contained HTML; upload it as an artifact).",
        ]
    return "\n".join(lines) + "\n"


def junit_xml(verdict: RunVerdict) -> bytes:
    duration_s = _duration_s(verdict.raw)
    suite = ET.Element(
        "testsuite", name="surgebench", timestamp=str(verdict.raw.get("started_at", ""))
    )
    validity = ET.SubElement(
        suite, "testcase", classname="surgebench.run", name="run_validity", time=f"{duration_s:.3f}"
    )
    failures = errors = 0
    if not verdict.valid:
        failures += 1
        failure = ET.SubElement(validity, "failure", message="run invalid", type="RunInvalid")
        failure.text = "\n".join(verdict.invalid_reasons)
    for result in verdict.slo_results:
        case = ET.SubElement(
            suite, "testcase", classname="surgebench.slo", name=result.key, time=f"{duration_s:.3f}"
        )
        if not verdict.valid:
            errors += 1
            ET.SubElement(
                case, "error", message="not judged: the run is invalid", type="RunInvalid"
            )
        elif result.met is None:
            errors += 1
            ET.SubElement(
                case, "error", message=f"{result.key} was not measured", type="NotMeasured"
            )
        elif not result.met:
            failures += 1
            message = (
                f"{result.key}: measured {result.format(result.measured)} in stage "
                f"{result.worst_stage} > threshold {result.format(result.threshold)}"
            )
            ET.SubElement(case, "failure", message=message, type="SloBreached").text = message
        else:
            ET.SubElement(case, "system-out").text = (
                f"worst stage {result.worst_stage}: {result.format(result.measured)} "
                f"<= threshold {result.format(result.threshold)}"
            )
    suite.set("tests", str(1 + len(verdict.slo_results)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{duration_s:.3f}")
    root = ET.Element("testsuites", name="surgebench")
    root.append(suite)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def _slo_row(result: SloResult, *, valid: bool) -> str:
    if not valid:
        outcome = "⚠️ not judged (run invalid)"
    elif result.met is None:
        outcome = "⚠️ not measured"
    else:
        outcome = "✅ met" if result.met else "❌ breached"
    return (
        f"| `{result.key}` | {result.format(result.threshold)} | "
        f"{result.format(result.measured)} | {result.worst_stage or '-'} | {outcome} |"
    )


def _capacity_lines(verdict: RunVerdict) -> list[str]:
    rows = []
    sat = verdict.saturation
    max_rps = _num(sat.get("max_sustainable_rps"))
    if max_rps is not None:
        low, high = _num(sat.get("ci_low_rps")), _num(sat.get("ci_high_rps"))
        ci = f" (CI {low:.2f} to {high:.2f})" if low is not None and high is not None else ""
        rows.append(f"| max sustainable load under the SLO | {max_rps:.2f} req/s{ci} |")
    cap = verdict.capacity
    if _num(cap.get("peak_rps")) is not None:
        rows.append(f"| planned for a peak of | {_num(cap.get('peak_rps')):.2f} req/s |")
    for key, label in _CAPACITY_ROWS:
        if cap.get(key) is not None:
            rows.append(f"| {label} | {count_text(cap.get(key))} |")
    cost = _num(cap.get("cost_per_hour"))
    if cost is not None:
        rows.append(f"| cost per hour | {cost:,.2f} |")
    return rows


def count_text(value: Any) -> str:
    """A CountRange ``{value, low, high}`` as ``7 (6-9)``; a bare number as itself."""
    if isinstance(value, Mapping):
        mid, low, high = value.get("value"), value.get("low"), value.get("high")
        if low is not None and high is not None and (low != mid or high != mid):
            return f"{_fmt(mid)} ({_fmt(low)}-{_fmt(high)})"
        return _fmt(mid)
    return _fmt(value)


def _surge_lines(surges: tuple[Mapping[str, Any], ...]) -> list[str]:
    lines = []
    for surge in surges:
        name = surge.get("label") or surge.get("kind") or "event"
        parts = [f"{surge.get('kind', 'event')} at {_fmt(surge.get('t_onset_s'))} s"]
        for key, label in (
            ("onset_to_violation_s", "first SLO violation after"),
            ("violation_s", "violated for"),
            ("time_to_recover_s", "recovered after"),
            ("drain_s", "backlog drained in"),
        ):
            if _num(surge.get(key)) is not None:
                parts.append(f"{label} {_fmt(surge.get(key))} s")
        if surge.get("recovered") is False:
            parts.append("did NOT recover within the run")
        lost = {k: surge.get(k) for k in ("failed", "shed", "dropped", "abandoned") if surge.get(k)}
        if lost:
            parts.append(", ".join(f"{v} {k}" for k, v in lost.items()))
        lines.append(f"- **{name}**: " + "; ".join(parts))
    return lines


def _profile_name(raw: Mapping[str, Any]) -> str | None:
    profile = raw.get("profile")
    if isinstance(profile, Mapping):
        return str(profile.get("name")) if profile.get("name") else None
    return str(profile) if isinstance(profile, str) else None


def _duration_s(raw: Mapping[str, Any]) -> float:
    for key in ("duration_s", "run_duration_s"):
        value = _num(raw.get(key))
        if value is not None:
            return value
    stages = raw.get("stages")
    if isinstance(stages, list) and stages and isinstance(stages[-1], Mapping):
        end = _num(stages[-1].get("t_end_s"))
        if end is not None:
            return end
    return 0.0


def _num(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _fmt(value: Any) -> str:
    number = _num(value)
    if number is None:
        return "n/a" if value is None else str(value)
    return f"{number:g}" if number == int(number) else f"{number:,.2f}"
