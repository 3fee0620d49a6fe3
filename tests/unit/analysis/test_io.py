"""Reading run directories: fast path equals the slow path, damage tolerated and reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.decode_pool import decode_paths
from analysis.io import RunDirectoryError, load_run
from analysis.locust_csv import LOCUST_MISSING
from analysis.pipeline import analyse
from analysis.summary import build_summary

LOCUST_CSV_RUN = Path(__file__).parents[2] / "data" / "locust_csv_run"


def _lines(run_dir: Path) -> list[dict[str, object]]:
    rows = []
    for path in sorted((run_dir / "requests").glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    return rows


def test_columns_and_itl_match_a_plain_json_parse(mm1_run_dir: Path) -> None:
    run = load_run(mm1_run_dir)
    rows = _lines(mm1_run_dir)
    assert len(run.requests) == len(rows)
    by_id = {str(r["request_id"]): r for r in rows}
    frame = run.requests
    for i in (0, 1, len(frame) // 2, len(frame) - 1):
        row = by_id[str(frame["request_id"].iloc[i])]
        assert frame["t_sent_s"].iloc[i] == row["t_sent_s"]
        assert frame["status"].iloc[i] == row["status"]
        own = run.itl.values_s[run.itl.record_index == i]
        assert own.tolist() == row["itl_s"]
    expected = sum(len(r["itl_s"]) for r in rows if isinstance(r["itl_s"], list))
    assert run.itl.values_s.size == expected


def test_truncated_last_line_is_dropped_and_reported(mm1_run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(mm1_run_dir, copy)
    target = sorted((copy / "requests").glob("*.jsonl"))[0]
    full = len(load_run(copy).requests)
    with target.open("a") as handle:
        handle.write('{"request_id": "cut", "t_sent_s": 1.0, "itl_s": [0.1, 0.')
    run = load_run(copy)
    assert len(run.requests) == full
    assert any("last line truncated" in note for note in run.notes)


def test_corrupt_middle_line_is_skipped_and_counted(mm1_run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(mm1_run_dir, copy)
    target = sorted((copy / "requests").glob("*.jsonl"))[0]
    lines = target.read_text().splitlines(keepends=True)
    lines.insert(5, "{not json\n")
    target.write_text("".join(lines))
    run = load_run(copy)
    assert len(run.requests) == len(load_run(mm1_run_dir).requests)
    assert any("1 undecodable record line(s) skipped" in note for note in run.notes)


def test_nan_written_by_json_dumps_is_read(tmp_path: Path, mm1_run_dir: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(mm1_run_dir, copy)
    target = sorted((copy / "requests").glob("*.jsonl"))[0]
    text = target.read_text().replace('"prompt_tokens":100', '"prompt_tokens":NaN', 1)
    target.write_text(text)
    run = load_run(copy)
    assert len(run.requests) == len(load_run(mm1_run_dir).requests)
    assert np.isnan(run.requests["prompt_tokens"]).sum() == 1


def test_locust_csv_only_run_is_accepted_and_says_what_is_missing() -> None:
    run = load_run(LOCUST_CSV_RUN)
    assert run.source == "locust_csv"
    assert run.locust_history is not None and len(run.locust_history) >= 3
    assert run.missing == LOCUST_MISSING
    summary = build_summary(analyse(run))
    assert summary.verdict == "invalid"
    assert "TTFT, TPOT and ITL" in summary.validity.missing
    assert summary.saturation is None and summary.capacity is None
    # 455 requests, 42 failures over the run: Locust's cumulative counts are kept
    assert run.locust_history["total_requests"].iloc[-1] == 455
    assert run.locust_history["total_failures"].iloc[-1] == 42


def test_missing_directory_and_unknown_layout_are_named(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(RunDirectoryError, match=r"neither manifest\.json"):
        load_run(tmp_path)


def test_parallel_decode_equals_in_process_decode(mm1_run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(mm1_run_dir, copy)
    target = sorted((copy / "requests").glob("*.jsonl"))[-1]
    with target.open("a") as handle:
        handle.write('{"request_id": "cut", "t_sent_s": 1.0, "itl_s": [0.1, 0.')
    paths = sorted((copy / "requests").glob("*.jsonl"))
    one = decode_paths(paths, workers=1)
    # min_bytes=0 forces the pool; 3 workers over 2 files also splits a file mid-way
    many = decode_paths(paths, workers=3, min_bytes=0)
    assert many.truncated_files == one.truncated_files == (1,)
    key = "request_id"
    a = one.frame.sort_values(key).reset_index(drop=True).astype(object)
    b = many.frame.sort_values(key).reset_index(drop=True).astype(object)
    pd.testing.assert_frame_equal(a, b)
    assert np.array_equal(np.sort(one.itl_values_s), np.sort(many.itl_values_s))
    assert int(many.itl_counts.sum()) == many.itl_values_s.size


def test_stub_config_json_fills_a_null_manifest_stub_config(
    mm1_run_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(mm1_run_dir, run_dir)
    assert load_run(run_dir).stub_config_source is None
    (run_dir / "stub_config.json").write_text(json.dumps({"replicas": 3, "router": "round_robin"}))
    run = load_run(run_dir)
    assert run.manifest.stub_config == {"replicas": 3, "router": "round_robin"}
    assert run.stub_config_source == "stub_config.json"
    assert any("stub_config.json" in note for note in run.notes)
    # the manifest's own stub_config wins when there is one
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["stub_config"] = {"replicas": 2}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    run = load_run(run_dir)
    assert run.manifest.stub_config == {"replicas": 2} and run.stub_config_source == "manifest"
