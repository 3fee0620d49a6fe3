"""The failover preset really kills and restores a stub replica through the admin API.

A 2-replica stub with the admin API on (token in an env var), a Locust subprocess running
``locustfiles/chat.py,profiles/failover.py`` compressed to about 11 s; a thread polls
``GET /admin/state`` meanwhile and records each replica's lifecycle state.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from tests.integration.profiles.locust_process import finish, start_locust
from tests.stub_process import running_stub

_TOKEN_ENV = "SURGEBENCH_ADMIN_TOKEN"
_TOKEN = "failover-drill-test-token"


def _replica0_states(url: str, stop: threading.Event, seen: list[str]) -> None:
    request = urllib.request.Request(
        f"{url}/admin/state", headers={"Authorization": f"Bearer {_TOKEN}"}
    )
    while not stop.is_set():
        with urllib.request.urlopen(request, timeout=5) as response:
            state = json.load(response)["replicas"][0]["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        stop.wait(0.1)


def test_failover_preset_kills_and_restores_replica_0(tmp_path: Path) -> None:
    stub_args = ("--preset", "tiny", "--replicas", "2", "--admin-token-env", _TOKEN_ENV)
    env = {_TOKEN_ENV: _TOKEN}
    with running_stub(stub_args, env=env) as stub:
        seen: list[str] = []
        stop = threading.Event()
        poller = threading.Thread(target=_replica0_states, args=(stub.url, stop, seen))
        poller.start()
        try:
            run_dir = tmp_path / "failover"
            # The kill fails in-flight streams on purpose; that is not a failed Locust run.
            args = ["--headless", "--host", stub.url, "--run-dir", str(run_dir)]
            args += ["--exit-code-on-error", "0"]
            args += ["--profile-scale", "60", "--baseline-users", "3"]
            proc, t0 = start_locust(["locustfiles/chat.py", "profiles/failover.py"], args, env)
            run = finish(proc, t0, timeout_s=60)
        finally:
            stop.set()
            poller.join(timeout=10)
        assert run.returncode == 0, run.output[-3000:]

    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    kinds = [(e["kind"], e["ok"]) for e in events]
    assert kinds == [("kill_replica", True), ("restore_replica", True)], events
    assert events[0]["t_s"] < events[1]["t_s"]
    # The replica went down and came back while the drill ran (what the stub itself reported).
    assert seen[0] == "ready" and seen[-1] == "ready", seen
    assert any(state != "ready" for state in seen), seen
    # Streams in flight on the killed replica ended with its error, as the clients saw it.
    records = [
        json.loads(line)
        for path in (run_dir / "requests").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    failed = [r for r in records if r["error"] and "replica_failed" in r["error"]]
    assert failed, "no request saw the kill"
    kill_t_s = events[0]["t_s"]
    assert all(abs(r["t_done_s"] - kill_t_s) < 2.0 for r in failed), (kill_t_s, failed)
    assert _TOKEN not in (run_dir / "manifest.json").read_text()
