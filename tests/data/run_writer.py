"""Write synthetic run directories in the run-directory contract (docs/ARCHITECTURE.md).

Records are serialised with ``locustfiles.records.RequestRecord.to_json_line``, the writer
the load generator itself uses, so the fixtures exercise the real format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from locustfiles.records import SCHEMA_VERSION, RequestRecord
from tests.data.queue_sim import SimStage


def write_run(
    directory: Path,
    records: Iterable[RequestRecord],
    stages: Sequence[SimStage],
    *,
    run_id: str = "synthetic",
    mode: str = "rate",
    slo: Mapping[str, float] | None = None,
    server_samples: Sequence[Mapping[str, Any]] = (),
    events: Sequence[Mapping[str, Any]] = (),
    stub_config: Mapping[str, Any] | None = None,
    files: int = 1,
) -> Path:
    """Write manifest.json, requests/*.jsonl (round-robin over ``files``), offered.csv and,
    when given, server_metrics.jsonl and events.jsonl. Returns ``directory``."""
    (directory / "requests").mkdir(parents=True, exist_ok=True)
    spans: list[dict[str, Any]] = []
    t = 0.0
    for stage in stages:
        spans.append(
            {
                "name": stage.name,
                "t_start_s": t,
                "t_end_s": t + stage.duration_s,
                "target_start": stage.rate_rps,
                "target_end": stage.rate_rps,
                "transition": "step",
            }
        )
        t += stage.duration_s
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_at": "2026-01-01T00:00:00Z",
        "t0_epoch_s": 1767225600.0,
        "finished_at": "2026-01-01T00:10:00Z",
        "git_sha": None,
        "versions": {"surgebench": "test"},
        "profile": {"name": "sweep", "mode": mode, "seed": 1, "time_scale": 1.0, "params": {}},
        "stages": spans,
        "target": {"url": "http://127.0.0.1:0", "kind": "stub", "model": "sim"},
        "stub_config": dict(stub_config) if stub_config is not None else None,
        "slo": dict(slo or {}),
        "loadgen": {"processes": files, "cpu_max_frac": 0.3, "dropped": 0, "warnings": []},
        "validity": {"client_limited": False, "reasons": []},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
    handles = [(directory / "requests" / f"p{i}.jsonl").open("w") for i in range(files)]
    try:
        for i, record in enumerate(records):
            handles[i % files].write(record.to_json_line())
    finally:
        for handle in handles:
            handle.close()
    lines = ["t_s,stage,target_users,target_rps,actual_users"]
    for span in spans:
        second = int(span["t_start_s"])
        while second < span["t_end_s"]:
            lines.append(f"{second},{span['name']},,{span['target_start']},")
            second += 1
    (directory / "offered.csv").write_text("\n".join(lines) + "\n")
    if server_samples:
        text = "".join(json.dumps(dict(s)) + "\n" for s in server_samples)
        (directory / "server_metrics.jsonl").write_text(text)
    if events:
        (directory / "events.jsonl").write_text("".join(json.dumps(dict(e)) + "\n" for e in events))
    return directory
