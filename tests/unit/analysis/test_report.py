"""report.html is self-contained and complete; summary.json carries the contract's fields."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.__main__ import main
from analysis.summary import SummaryV1

LOCUST_CSV_RUN = Path(__file__).parents[2] / "data" / "locust_csv_run"


def test_report_and_summary(
    surge_run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", str(surge_run_dir), "--out", str(tmp_path), "--n-boot", "50",
                 "--peak-rps", "200", "--gpu-price", "2.5", "--gpus-per-replica", "2"])  # fmt: skip
    assert code in (0, 1)
    page = (tmp_path / "report.html").read_text()
    # self-contained: plotly.js inlined, nothing fetched from the network
    assert "plotly.js v" in page or "Plotly" in page
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page
    body = page.split("</head>", 1)[1]
    assert not re.search(r"<[a-zA-Z]+[^<>]*\s(src|href)\s*=", body)
    for heading in ("Summary", "Validity", "Stages", "Time series", "Saturation",
                    "Surges and faults", "Capacity plan", "Methodology"):  # fmt: skip
        assert f">{heading}</h" in page
    raw = json.loads((tmp_path / "summary.json").read_text())
    summary = SummaryV1.model_validate(raw)
    assert raw["schema_version"] == 1
    for key in (
        "run_id",
        "verdict",
        "slo",
        "validity",
        "stages",
        "saturation",
        "capacity",
        "surges",
    ):
        assert key in raw
    for key in ("max_sustainable_rps", "ci_low_rps", "ci_high_rps", "knee_rps", "usl"):
        assert key in raw["saturation"]
    for key in ("replicas_normal", "replicas_surge", "replicas_n_plus_1", "gpus", "cost_per_hour"):
        assert key in raw["capacity"]
    assert summary.capacity is not None
    assert summary.capacity.gpus.value == 2 * summary.capacity.replicas_n_plus_1.value
    assert summary.capacity.cost_per_hour == pytest.approx(2.5 * summary.capacity.gpus.value)
    assert len(summary.surges) == 2
    assert "verdict:" in capsys.readouterr().out


def test_report_exit_codes(mm1_run_dir: Path, tmp_path: Path) -> None:
    # the sweep goes past saturation on purpose: the SLO is breached
    assert main(["report", str(mm1_run_dir), "--out", str(tmp_path), "--n-boot", "0"]) == 1
    loose = "e2e_p95_ms=100000,error_max_frac=1"
    assert main(["report", str(mm1_run_dir), "--out", str(tmp_path), "--slo", loose,
                 "--n-boot", "0"]) == 0  # fmt: skip
    assert main(["report", str(LOCUST_CSV_RUN), "--out", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 3


def test_bad_values_are_named_with_allowed_ones(
    mm1_run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(mm1_run_dir), "--slo", "latency_p95_ms=3"]) == 3
    err = capsys.readouterr().err
    assert "Unknown SLO key 'latency_p95_ms'" in err and "ttft, ttft_intended" in err
    with pytest.raises(SystemExit) as exc:
        main(["report", str(mm1_run_dir), "--peak-rps", "-5"])
    assert exc.value.code == 3
    with pytest.raises(SystemExit) as exc:
        main(["plan"])
    assert exc.value.code == 3
    assert "choose from" in capsys.readouterr().err


def test_analysis_never_imports_locust() -> None:
    code = (
        "import sys, analysis.report, analysis.__main__, analysis.compare;"
        "bad = [m for m in ('locust', 'gevent', 'aiohttp') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
