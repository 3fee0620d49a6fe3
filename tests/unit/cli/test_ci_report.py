from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from surgebench.ci_report import junit_xml, markdown_summary, write_ci_outputs
from surgebench.verdict import verdict_from_summary
from tests.unit.cli.summaries import capacity, stage, summary


def _cases(xml: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_junit_has_one_case_per_slo_plus_validity() -> None:
    doc = summary(slo={"ttft_p95_ms": 500.0, "tpot_p95_ms": 50.0, "error_max_frac": 0.01})
    for row in doc["stages"]:
        row["tpot_p95_ms"] = 20.0
    cases = _cases(junit_xml(verdict_from_summary(doc)))
    assert set(cases) == {"run_validity", "ttft_p95_ms", "tpot_p95_ms", "error_max_frac"}
    assert all(
        case.find("failure") is None and case.find("error") is None for case in cases.values()
    )


def test_junit_marks_a_breach_as_failure_with_the_numbers() -> None:
    doc = summary(verdict="fail", stages=[stage("surge", ttft_p95_ms=812.5, slo_met=False)])
    xml = junit_xml(verdict_from_summary(doc))
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "3"
    failure = _cases(xml)["ttft_p95_ms"].find("failure")
    assert failure is not None
    assert "812.5 ms" in failure.get("message", "") and "surge" in failure.get("message", "")


def test_junit_invalid_run_fails_validity_and_errors_every_slo() -> None:
    doc = summary(verdict="invalid", valid=False, reasons=("too few samples: 3 requests finished",))
    cases = _cases(junit_xml(verdict_from_summary(doc)))
    failure = cases["run_validity"].find("failure")
    assert failure is not None and "too few samples" in (failure.text or "")
    assert cases["ttft_p95_ms"].find("error") is not None


def test_markdown_shows_verdict_table_capacity_and_surges() -> None:
    surge = {
        "label": "surge", "kind": "stage", "t_onset_s": 60.0, "t_horizon_end_s": 200.0,
        "onset_to_violation_s": 12.0, "violation_s": 40.0, "time_to_recover_s": 55.0,
        "recovered": True, "baseline_in_flight": 3.0, "peak_in_flight": 40.0, "drain_s": 20.0,
        "requests": 900, "failed": 4, "shed": 0, "dropped": 0, "abandoned": 0, "not_good": 50,
        "burn_rate": 3.0,
    }  # fmt: skip
    doc = summary(capacity=capacity(), surges=[surge])
    text = markdown_summary(verdict_from_summary(doc), report_path=Path("r/report.html"))
    assert text.startswith("## surgebench: SLO MET")
    assert "| `ttft_p95_ms` | 500.0 ms | 310.0 ms | steady | ✅ met |" in text
    assert "| replicas for the surge with N+1 | 7 (7-8) |" in text
    assert "recovered after 55 s" in text and "4 failed" in text
    assert "r/report.html" in text


def test_markdown_explains_an_invalid_run() -> None:
    doc = summary(verdict="invalid", valid=False, reasons=("client-limited: CPU 98%",))
    text = markdown_summary(verdict_from_summary(doc))
    assert "RUN INVALID" in text and "- client-limited: CPU 98%" in text
    assert "not judged" in text


def test_write_ci_outputs_writes_both_files(tmp_path: Path) -> None:
    md, junit = write_ci_outputs(verdict_from_summary(summary()), tmp_path)
    assert md.name == "ci-summary.md" and junit.name == "junit.xml"
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert "SLO MET" in md.read_text("utf-8")
