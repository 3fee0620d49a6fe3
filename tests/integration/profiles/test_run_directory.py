"""Profiles against the real stub: stage boundaries and offered load land in the run directory.

Closed loop (viral, users) and open loop (sweep, rate through locustfiles' open-loop
generator), each a Locust subprocess time-compressed to a few seconds, in parallel.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import pytest

import profiles
from tests.integration.profiles.locust_process import finish, start_locust
from tests.stub_process import running_stub

CASES = {
    "viral": (["--profile-scale", "400", "--profile-variant", "severe", "--baseline-users", "2"],
              {"time_scale": 400, "variant": "severe", "baseline": 2, "mode": "users"}),
    "sweep": (["--profile-params", "levels=[2,5],warmup_s=0.5,hold_s=2"],
              {"levels": [2, 5], "warmup_s": 0.5, "hold_s": 2}),
}  # fmt: skip


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    with running_stub(("--preset", "tiny", "--replicas", "2")) as stub:
        started = {}
        for name, (args, _) in CASES.items():
            run_args = ["--headless", "--host", stub.url, "--run-dir", str(root / name), *args]
            started[name] = start_locust(["locustfiles/chat.py", f"profiles/{name}.py"], run_args)
        for proc, t0 in started.values():
            run = finish(proc, t0, timeout_s=60)
            assert run.returncode == 0, run.output[-3000:]
    return {name: root / name for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_manifest_has_the_stage_boundaries_and_the_profile(
    run_dirs: dict[str, Path], name: str
) -> None:
    profile = profiles.load(name, **CASES[name][1])
    manifest = json.loads((run_dirs[name] / "manifest.json").read_text())
    assert manifest["stages"] == [asdict(b) for b in profile.boundaries()]
    recorded = manifest["profile"]
    assert (recorded["name"], recorded["mode"], recorded["time_scale"]) == (
        name,
        profile.mode,
        profile.time_scale,
    )
    assert recorded["params"] == profile.params


@pytest.mark.parametrize("name", sorted(CASES))
def test_offered_load_follows_the_profile_each_second(run_dirs: dict[str, Path], name: str) -> None:
    profile = profiles.load(name, **CASES[name][1])
    with (run_dirs[name] / "offered.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    column = "target_users" if profile.mode == "users" else "target_rps"
    inside = [row for row in rows if float(row["t_s"]) < profile.duration_s - 0.3]
    assert len(inside) >= int(profile.duration_s) - 2
    edges = [b.t_end_s for b in profile.boundaries()]
    for row in inside:
        t_s = float(row["t_s"])
        if min(abs(t_s - edge) for edge in edges) < 0.3:
            continue  # the recorder's clock and the shape's differ by a few ms
        stage = profile.stage_at(t_s)
        assert stage is not None and row["stage"] == stage.name, row
        if stage.transition == "step":
            assert float(row[column]) == pytest.approx(stage.target_end), row
    requests = list((run_dirs[name] / "requests").glob("*.jsonl"))
    assert requests and sum(len(p.read_text().splitlines()) for p in requests) > 0
