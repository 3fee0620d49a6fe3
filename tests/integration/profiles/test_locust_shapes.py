"""Each preset drives a real Locust subprocess (time-compressed to seconds) and ends it by itself.

The users make no network requests (idle_user.py); what is checked is what the shape made
Locust do, read from Locust's own "Shape test updating to N users" log lines.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

import profiles
from tests.integration.profiles.locust_process import IDLE_USER, LocustRun, finish, start_locust

# preset -> (time scale, overrides): every run lasts 4-7 s and every level lasts >= 1.5 s.
RUNS: dict[str, tuple[float, dict[str, Any]]] = {
    "steady": (1.0, {"baseline": 5, "duration_s": 4}),
    "soak": (1.0, {"baseline": 6, "duration_s": 3, "warmup_s": 1}),
    "normal": (14400.0, {"peak": 30}),
    "viral": (400.0, {"variant": "severe", "baseline": 10}),
    "flash": (1.0, {"baseline": 5, "multiplier": 4, "baseline_s": 2, "spike_s": 2, "after_s": 2}),
    "sweep": (1.0, {"mode": "users", "levels": [2, 4, 6], "warmup_s": 0.5, "hold_s": 1.5}),
    "failover": (130.0, {"baseline": 4, "multiplier": 3}),
    "storm": (
        100.0,
        {"baseline": 4, "multiplier": 3, "baseline_s": 150, "overload_s": 200, "after_s": 200},
    ),
}
SEARCH_PARAMS = (
    "mode=users,start_rate=1,max_rate=32,growth=2,rel_tolerance=0.2,step_s=1.2,settle_frac=0.4,"
    "hold_s=1.5,ttft_p95_ms=1000,tpot_p95_ms=100,max_probes=12"
)


def _params_arg(overrides: dict[str, Any]) -> str:
    def text(value: Any) -> str:
        return "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else str(value)

    return ",".join(f"{key}={text(value)}" for key, value in overrides.items())


@pytest.fixture(scope="module")
def preset_runs() -> dict[str, LocustRun]:
    """All presets at once, in parallel subprocesses (the runs mostly sleep)."""
    started = {}
    for name, (scale, overrides) in RUNS.items():
        args = ["--headless", "--host", "http://127.0.0.1:9", "--profile-scale", str(scale)]
        args += ["--profile-params", _params_arg(overrides)]
        started[name] = start_locust([IDLE_USER, f"profiles/{name}.py"], args)
    started["search"] = start_locust(
        [IDLE_USER, "profiles/search.py"],
        ["--headless", "--profile-params", SEARCH_PARAMS],
        env={"SURGEBENCH_TEST_BOUNDARY_USERS": "6"},
    )
    return {name: finish(proc, t0, timeout_s=45) for name, (proc, t0) in started.items()}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_preset_shapes_user_counts_and_exits_by_itself(
    preset_runs: dict[str, LocustRun], name: str
) -> None:
    run = preset_runs[name]
    scale, overrides = RUNS[name]
    profile = profiles.load(name, time_scale=scale, **overrides)
    assert run.returncode == 0, run.output[-3000:]
    assert "Shape test stopping" in run.output
    # Ends when the profile ends: not before, and not much after (ticks are ~1 s apart).
    assert profile.duration_s - 0.1 <= run.shape_run_s <= profile.duration_s + 2.5, run.shape_run_s
    counts = run.user_counts
    noise = max(stage.noise_frac for stage in profile.stages)
    peak = profile.peak()[1]
    # The first tick comes at t = 0 (later on a loaded machine: allow up to one tick).
    first_tick = [round(profile.target_at(k / 10)) for k in range(11)]
    assert min(first_tick) - 1 <= counts[0] <= max(first_tick) + 1, (counts, first_tick)
    assert max(counts) == pytest.approx(peak, abs=1 + noise * peak)
    assert (
        min(counts)
        >= round(min(profile.nominal_at(b.t_start_s) for b in profile.boundaries()) * (1 - noise))
        - 1
    )
    # Every level held for at least 1.5 s shows up as a user count.
    for b in profile.boundaries():
        if b.transition == "step" and b.t_end_s - b.t_start_s >= 1.5:
            assert round(b.target_end) in counts, (b.name, counts)


def test_failover_fires_kill_and_restore_at_their_times(preset_runs: dict[str, LocustRun]) -> None:
    output = preset_runs["failover"].output
    kill = output.index("event kill_replica target=0")
    restore = output.index("event restore_replica target=0")
    assert kill < restore
    # No admin token in this environment: the shape refuses to send rather than send without one.
    assert "not sent: environment variable SURGEBENCH_ADMIN_TOKEN is not set" in output


def test_search_shape_finds_a_synthetic_boundary_and_holds_there(
    preset_runs: dict[str, LocustRun],
) -> None:
    run = preset_runs["search"]
    assert run.returncode == 0, run.output[-3000:]
    # Grow 1, 2, 4, 8 (fails: more than 6 users), bisect 6 (passes), 7 (fails), hold at 6.
    assert run.user_counts == [1, 2, 4, 8, 6, 7, 6], run.output[-3000:]
    assert "-> hold at 6" in run.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def test_directory_offers_every_preset_in_the_web_ui_and_runs_the_picked_one() -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc, started = start_locust(
        [IDLE_USER, "profiles/"],
        ["--class-picker", "--web-host", "127.0.0.1", "--web-port", str(port)],
    )
    try:
        page, deadline = "", time.monotonic() + 30
        while not page and time.monotonic() < deadline and proc.poll() is None:
            try:
                page = _get(base + "/").decode()
            except OSError:
                time.sleep(0.2)
        for name in profiles.available():
            assert f'"{name.capitalize()}Shape"' in page, name
        assert '"profile_scale"' in page and '"surge_multiplier"' in page  # custom parameters
        # Start the flash shape as the web form does; empty fields keep the preset's defaults.
        form = {
            "user_count": "1",
            "spawn_rate": "1",
            "host": "http://127.0.0.1:9",
            "shape_class": "FlashShape",
            "user_classes": "IdleUser",
            "profile_scale": "1",
            "profile_params": "baseline=2,baseline_s=1.5,spike_s=2,after_s=1.5",
            "surge_multiplier": "3",
            "baseline_users": "",
            "profile_variant": "",
        }
        request = urllib.request.Request(
            base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["success"] is True
        seen, state, deadline = set(), "", time.monotonic() + 20
        while state != "stopped" and time.monotonic() < deadline:
            stats = json.loads(_get(base + "/stats/requests"))
            state = stats["state"]
            seen.add(int(stats["user_count"]))
            time.sleep(0.25)
        assert state == "stopped"  # the shape ended the run by itself
        assert {2, 6} <= seen, seen
    finally:
        proc.terminate()
        run = finish(proc, started, timeout_s=20)
    assert "Duplicate" not in run.output and "Traceback" not in run.output, run.output[-3000:]
    assert "profile flash: mode users, 3 stages, 5.0 s at time scale 1" in run.output
