"""``surgebench run`` end to end: the stub, a real Locust subprocess, analysis, the verdict."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import profiles
from tests.integration.cli.conftest import API_KEY, CliRun, surgebench


def test_run_writes_the_whole_run_directory_and_exits_0(shared_run: CliRun) -> None:
    run_dir = shared_run.run_dir
    assert shared_run.returncode == 0, shared_run.stdout + shared_run.stderr
    for name in (
        "manifest.json", "offered.csv", "summary.json", "report.html", "stub_config.json",
        "server_metrics.jsonl",
        "ci-summary.md", "junit.xml", "locust_stats.csv", "logs/locust.log", "logs/stub.log",
        "logs/commands.txt",
    ):  # fmt: skip
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    assert manifest["finished_at"] is not None
    assert manifest["profile"]["name"] == "viral"
    records = [
        json.loads(line)
        for path in (run_dir / "requests").glob("*.jsonl")
        for line in path.read_text("utf-8").splitlines()
    ]
    assert len(records) >= 100
    assert sum(r["error_kind"] is None for r in records) / len(records) > 0.95
    assert "SLO MET (exit 0)" in shared_run.stdout
    scrapes = (run_dir / "server_metrics.jsonl").read_text("utf-8").splitlines()
    assert len(scrapes) >= 15 and "vllm:num_requests_running" in scrapes[-1]


def test_summary_matches_the_profile_and_the_slo(shared_run: CliRun) -> None:
    summary = json.loads((shared_run.run_dir / "summary.json").read_text("utf-8"))
    assert summary["schema_version"] == 1
    assert summary["verdict"] == "pass"
    assert summary["validity"]["valid"] is True
    assert summary["slo"] == {"ttft_p95_ms": 3000.0, "tpot_p95_ms": 300.0, "error_max_frac": 0.05}
    expected = profiles.load("viral", baseline=2, multiplier=3, seed=11, time_scale=1.0)
    assert [s["label"] for s in summary["stages"]] == [s.name for s in expected.stages]
    # The plan defaults to the profile's own surge (3x over its real, uncompressed ramp).
    assert summary["capacity"]["replicas_n_plus_1"]["value"] == (
        summary["capacity"]["replicas_surge"]["value"] + 1
    )


def test_ci_outputs_have_one_case_per_slo(shared_run: CliRun) -> None:
    root = ET.parse(shared_run.run_dir / "junit.xml").getroot()
    names = {case.get("name") for case in root.iter("testcase")}
    assert names == {"run_validity", "ttft_p95_ms", "tpot_p95_ms", "error_max_frac"}
    assert not list(root.iter("failure")) and not list(root.iter("error"))
    assert "SLO MET" in (shared_run.run_dir / "ci-summary.md").read_text("utf-8")


def test_the_api_key_is_written_nowhere(shared_run: CliRun) -> None:
    for path in shared_run.run_dir.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text("utf-8", errors="replace"), path
    assert API_KEY not in shared_run.stdout + shared_run.stderr


def test_impossible_slo_exits_1_with_failures(shared_run: CliRun, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(shared_run.run_dir, copy)
    done = surgebench(["report", str(copy), "--slo=ttft_p95_ms=0.001,tpot_p95_ms=0.001", "--ci"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SLO BREACHED (exit 1)" in done.stdout
    failed = {
        case.get("name")
        for case in ET.parse(copy / "junit.xml").getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert failed == {"ttft_p95_ms", "tpot_p95_ms"}


def test_compare_same_run_is_no_regression(shared_run: CliRun) -> None:
    done = surgebench(["compare", str(shared_run.run_dir), str(shared_run.run_dir)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_compare_exits_1_on_a_regression(shared_run: CliRun, tmp_path: Path) -> None:
    # The new "run" is the same records with every latency stretched 3x after the send:
    # a synthetic regression with a known cause, to check the exit code path.
    new = tmp_path / "slower"
    shutil.copytree(shared_run.run_dir, new)
    for path in (new / "requests").glob("*.jsonl"):
        lines = []
        for line in path.read_text("utf-8").splitlines():
            record = json.loads(line)
            sent = record["t_sent_s"]
            for key in ("t_first_chunk_s", "t_first_token_s", "t_last_token_s", "t_done_s"):
                if record[key] is not None:
                    record[key] = sent + 3.0 * (record[key] - sent)
            if record["itl_s"]:
                record["itl_s"] = [3.0 * gap for gap in record["itl_s"]]
            lines.append(json.dumps(record))
        path.write_text("\n".join(lines) + "\n", "utf-8")
    done = surgebench(["compare", str(shared_run.run_dir), str(new)])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REGRESSION" in done.stdout


def test_plan_from_the_run(shared_run: CliRun, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    done = surgebench(
        [
            "plan", str(shared_run.run_dir), "--peak-rps=100", "--surge=10x", "--ramp-min=10",
            "--reaction-s=300", "--price-per-gpu-hour=2.5", f"--json={out}",
        ]
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(out.read_text("utf-8"))
    assert plan["peak_rps"] == 100.0
    # m = min(M, 1 + (M - 1) * T_react / T_ramp) = 1 + 9 * 300 / 600 (REFERENCE section 4)
    assert plan["headroom_multiplier"] == 5.5
    assert plan["replicas_n_plus_1"]["value"] == plan["replicas_surge"]["value"] + 1
    assert plan["cost_per_hour"] == plan["gpus"]["value"] * 2.5
    assert "replicas for the surge, N+1" in done.stdout
