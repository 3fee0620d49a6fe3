"""Surge analysis on a simulated 4x step surge against a shedding two-server queue."""

from __future__ import annotations

from pathlib import Path

from analysis.io import load_run
from analysis.pipeline import AnalysisOptions, analyse
from locustfiles.records import RequestRecord
from tests.data.queue_sim import SimStage
from tests.data.run_writer import write_run


def test_surge_violation_recovery_and_shedding(surge_run_dir: Path) -> None:
    analysis = analyse(load_run(surge_run_dir), AnalysisOptions(n_boot=0, recover_window_s=10))
    kinds = [(s.kind, s.t_onset_s) for s in analysis.surges]
    assert kinds == [("surge", 40.0), ("kill_replica", 100.0)]
    surge = analysis.surges[0]
    # 120 req/s against 100 req/s of service: a queue builds at once, then sheds at 40 waiting
    assert surge.onset_to_violation_s is not None and surge.onset_to_violation_s <= 10.0
    assert surge.shed > 0 and surge.failed == 0
    assert 10.0 <= surge.violation_s <= 50.0
    assert surge.recovered and surge.time_to_recover_s is not None
    assert surge.peak_in_flight > 20 * surge.baseline_in_flight
    assert surge.drain_s is not None and surge.drain_s < 30.0
    assert surge.burn_rate > 1.0
    assert analysis.limiter is not None and analysis.limiter.name == "queue"


def _record(i: int, t_sent_s: float, t_done_s: float, *, failed: bool) -> RequestRecord:
    return RequestRecord(
        request_id=f"r{i}", process_id="p0", user_class="ChatUser", endpoint="chat",
        stage=None, tier=None, t_intended_s=None, t_sent_s=t_sent_s,
        t_first_chunk_s=t_sent_s + 0.05, t_first_token_s=t_sent_s + 0.05,
        t_last_token_s=t_done_s, t_done_s=t_done_s, prompt_tokens=100, output_tokens=10,
        n_chunks=10, itl_s=None, status=200, error_kind="protocol" if failed else None,
        error="replica failed" if failed else None, retries=0,
    )  # fmt: skip


def test_requests_cut_by_a_replica_kill_count_against_the_kill(tmp_path: Path) -> None:
    """Requests started during a surge and errored by a later kill belong to the kill."""
    stages = [SimStage("base", 2.5, 30.0), SimStage("surge", 10.0, 60.0)]
    records, i = [], 0
    for k in range(900):
        t = k / 10.0
        if t >= 30.0 or k % 4 == 0:  # 2.5 req/s, then 10 req/s
            # one second each; those in flight at the kill (t = 60 s) fail at 60.05 s
            failed = t < 60.0 < t + 1.0
            records.append(_record(i, float(t), 60.05 if failed else float(t) + 1.0, failed=failed))
            i += 1
    in_flight_at_kill = sum(1 for r in records if r.error_kind is not None)
    events = [{"t_s": 60.0, "kind": "kill_replica", "target": 0, "params": {}, "ok": True,
               "detail": ""}]  # fmt: skip
    run_dir = write_run(tmp_path / "run", records, stages, mode="users", events=events)
    analysis = analyse(load_run(run_dir), AnalysisOptions(n_boot=0, recover_window_s=10))
    by_kind = {s.kind: s for s in analysis.surges}
    assert set(by_kind) == {"surge", "kill_replica"}
    assert in_flight_at_kill == 9  # sent in (59 s, 60 s)
    assert by_kind["kill_replica"].failed == in_flight_at_kill
    assert by_kind["surge"].failed == 0
    # the successful requests still belong to the horizon they started in
    started_in_surge = sum(1 for r in records if 30.0 <= r.t_sent_s < 60.0)
    assert by_kind["surge"].requests == started_in_surge - in_flight_at_kill
