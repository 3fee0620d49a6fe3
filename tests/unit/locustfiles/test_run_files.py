"""manifest.json, offered.csv and the request JSONL files, as the run-directory contract says."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from locustfiles.manifest import build_manifest, read_manifest, write_manifest
from locustfiles.offered import COLUMNS, OfferedWriter
from locustfiles.options import LoadOptions, add_arguments
from locustfiles.recorder import RecordSink
from locustfiles.records import FIELD_NAMES, RequestRecord
from profiles.base import Profile, Stage


def _options(*argv: str) -> LoadOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return LoadOptions.from_namespace(parser.parse_args(list(argv)))


def test_manifest_has_the_contract_fields_and_no_secret(tmp_path: Path) -> None:
    profile = Profile(
        name="demo",
        mode="users",
        stages=(
            Stage(name="base", duration_s=10, target_start=5, target_end=5),
            Stage(name="surge", duration_s=20, target_start=5, target_end=50),
        ),
        time_scale=2.0,
    )
    options = _options(
        "--api-key-env",
        "SECRET_ENV",
        "--extra-headers",
        "X-Token: hunter2",
        "--slo-e2e-p95-ms",
        "9000",
    )
    manifest = build_manifest(
        run_id="r1",
        t0_epoch_s=1_800_000_000.0,
        options=options,
        model="tiny-llm",
        target_url="http://127.0.0.1:8000",
        target_kind="stub",
        profile=profile,
        processes=2,
    )
    write_manifest(tmp_path, manifest)
    text = (tmp_path / "manifest.json").read_text()
    assert "hunter2" not in text
    data = read_manifest(tmp_path)
    for key in (
        "schema_version",
        "run_id",
        "started_at",
        "t0_epoch_s",
        "finished_at",
        "git_sha",
        "versions",
        "profile",
        "stages",
        "target",
        "slo",
        "loadgen",
        "validity",
    ):
        assert key in data
    assert data["finished_at"] is None
    assert data["stages"][1] == {
        "name": "surge",
        "t_start_s": 5.0,
        "t_end_s": 15.0,
        "target_start": 5.0,
        "target_end": 50.0,
        "transition": "linear",
    }
    assert data["target"]["extra_header_names"] == ["X-Token"]
    assert data["slo"] == {"e2e_p95_ms": 9000.0}
    assert data["loadgen"]["processes"] == 2


def test_offered_csv_columns(tmp_path: Path) -> None:
    writer = OfferedWriter(tmp_path)
    writer.row(t_s=1.0004, stage="base", target_users=5.0, target_rps=None, actual_users=5)
    writer.row(t_s=2.0, stage=None, target_users=None, target_rps=2.5, actual_users=1)
    writer.close()
    with (tmp_path / "offered.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1:] == [["1.000", "base", "5", "", "5"], ["2.000", "", "", "2.5", "1"]]


def _record(i: int, error_kind: str | None = None) -> RequestRecord:
    return RequestRecord(
        request_id=f"local-{i}",
        process_id="local",
        user_class="ChatUser",
        endpoint="chat",
        stage=None,
        tier=None,
        t_intended_s=None,
        t_sent_s=1.0,
        t_first_chunk_s=1.1,
        t_first_token_s=1.2,
        t_last_token_s=1.5,
        t_done_s=1.5,
        prompt_tokens=10,
        output_tokens=4,
        n_chunks=4,
        itl_s=[0.1, 0.1, 0.1],
        status=200,
        error_kind=error_kind,
        error=None if error_kind is None else "x",
        retries=0,
    )


def test_record_sink_writes_on_flush_and_fires_locust_rows(tmp_path: Path) -> None:
    fired: list[dict[str, object]] = []
    path = tmp_path / "requests" / "local.jsonl"
    sink = RecordSink(
        path, fire=lambda **kw: fired.append(kw), paths={"chat": "/v1/chat/completions"}
    )
    sink.add(_record(0))
    sink.add(_record(1, "status"))
    sink.add(_record(2, "aborted"), live=False)
    assert path.read_text() == ""  # buffered until the flush
    sink.flush()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == ["local-0", "local-1", "local-2"]
    assert set(lines[0]) == set(FIELD_NAMES)
    rows = [(kw["request_type"], kw["name"], kw["exception"] is None) for kw in fired]
    assert rows == [
        ("POST", "/v1/chat/completions", True),
        ("LLM", "TTFT", True),
        ("LLM", "TPOT", True),
        ("LLM", "E2E", True),
        ("POST", "/v1/chat/completions", False),
    ]
    assert fired[1]["response_time"] == 200.0 * (1.2 - 1.0) / 0.2
    sink.close()
