"""The fleet in simulated time: routing, lifecycle, kill/restart, stall, slow, scaling."""

from __future__ import annotations

import json

import pytest

from target_stub.cluster import ReplicaIndexError
from target_stub.errors import ApiError

from .recording import request, sim_fleet, small_engine, states


def test_requests_spread_over_replicas_and_all_finish() -> None:
    loop, fleet = sim_fleet(replicas=3, router="round_robin")
    sinks = [request(fleet, loop) for _ in range(9)]
    loop.run_for(5.0)
    assert sorted(index for _, _, index in sinks) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert all(sink.reason == "length" and len(sink.token_times_s) == 32 for sink, _, _ in sinks)
    assert [r.routed_total for r in fleet.replicas] == [3, 3, 3]


def test_least_outstanding_avoids_the_busy_replica() -> None:
    loop, fleet = sim_fleet(replicas=2)
    busy = [request(fleet, loop, output_tokens=500) for _ in range(6)]
    # Six long requests split 3/3; their clients on replica 1 leave, so replica 1 is idle
    # and every new request must go there.
    for _, seq, index in busy:
        if index == 1:
            fleet.replicas[1].abort(seq)
    assert fleet.replicas[1].outstanding == 0
    chosen = [request(fleet, loop)[2] for _ in range(3)]
    assert chosen == [1, 1, 1]


@pytest.mark.parametrize("mode", ["error", "drop"])
def test_killed_replica_ends_its_streams_and_new_requests_go_elsewhere(mode: str) -> None:
    loop, fleet = sim_fleet(replicas=2, router="round_robin")
    inflight = [request(fleet, loop, output_tokens=400) for _ in range(4)]
    loop.run_for(0.2)
    assert all(sink.token_times_s for sink, _, _ in inflight)
    dropped = fleet.kill(0, mode="drop" if mode == "drop" else "error")
    assert dropped == 2
    on_zero = [sink for sink, _, index in inflight if index == 0]
    assert all(sink.reason == "abort" and sink.t_done_s == loop.time() for sink in on_zero)
    assert fleet.replicas[0].abort_mode == mode
    assert fleet.replicas[0].state == "failed"
    assert fleet.replicas[0].engine.num_running == 0
    after = [request(fleet, loop) for _ in range(4)]
    assert {index for _, _, index in after} == {1}
    loop.run_for(30.0)
    assert all(sink.reason == "length" for sink, _, index in inflight if index == 1)
    assert all(sink.reason == "length" for sink, _, _ in after)


def test_killed_replica_restarts_after_its_cold_start() -> None:
    loop, fleet = sim_fleet(replicas=2)
    fleet.kill(1, mode="error")
    fleet.restart(1, cold_start_s=5.0)
    assert states(fleet)[1] == "starting"
    loop.run_until(4.99)
    assert states(fleet)[1] == "starting"
    loop.run_until(5.0)
    assert states(fleet)[1] == "ready"
    assert {request(fleet, loop)[2] for _ in range(4)} == {0, 1}


def test_no_live_replica_is_an_openai_shaped_503() -> None:
    loop, fleet = sim_fleet(replicas=1)
    fleet.kill(0, mode="error")
    with pytest.raises(ApiError) as caught:
        request(fleet, loop)
    err = caught.value
    assert err.status == 503
    body = json.loads(err.body_bytes())
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == "no_replica"
    assert body["error"]["message"].startswith("No engine replica is alive (1 failed)")
    assert int(err.headers["retry-after"]) >= 1
    assert fleet.rejections == {"no_ready_replica": 1}
    assert not fleet.ready and not fleet.live


def test_stalled_replica_freezes_its_streams_but_stays_ready_and_live() -> None:
    loop, fleet = sim_fleet(replicas=2, router="round_robin")
    streams = [request(fleet, loop, output_tokens=400) for _ in range(2)]
    loop.run_for(0.2)
    frozen_sink = next(sink for sink, _, index in streams if index == 0)
    other_sink = next(sink for sink, _, index in streams if index == 1)
    fleet.replicas[0].set_stalled(True)
    frozen_at = len(frozen_sink.token_times_s)
    other_at = len(other_sink.token_times_s)
    loop.run_for(1.0)
    assert len(frozen_sink.token_times_s) == frozen_at
    assert frozen_sink.reason is None
    assert len(other_sink.token_times_s) > other_at
    assert fleet.live and fleet.ready and fleet.replicas[0].state == "ready"
    fleet.replicas[0].set_stalled(False)
    loop.run_for(1.0)
    assert len(frozen_sink.token_times_s) > frozen_at


def test_slow_factor_stretches_inter_token_gaps() -> None:
    def mean_gap(factor: float) -> float:
        loop, fleet = sim_fleet(replicas=1)
        fleet.replicas[0].set_slow_factor(factor)
        sink, _, _ = request(fleet, loop, output_tokens=50)
        loop.run_for(10.0)
        times = sink.token_times_s
        return (times[-1] - times[0]) / (len(times) - 1)

    assert mean_gap(3.0) == pytest.approx(3.0 * mean_gap(1.0), rel=1e-6)


def test_shrinking_kv_preempts_running_sequences() -> None:
    loop, fleet = sim_fleet(replicas=1, engine=small_engine(max_num_seqs=16))
    for _ in range(16):
        request(fleet, loop, prompt_tokens=1000, output_tokens=200)
    loop.run_for(0.5)
    engine = fleet.replicas[0].engine
    assert engine.counters.preemptions_total == 0
    fleet.replicas[0].set_kv_capacity_frac(0.1)
    loop.run_for(0.5)
    assert engine.counters.preemptions_total > 0


def test_scale_up_waits_for_cold_start_and_scale_down_drains() -> None:
    loop, fleet = sim_fleet(replicas=1)
    fleet.scale_to(2, cold_start_s=3.0)
    assert [r.state for r in fleet.replicas] == ["ready", "starting"]
    loop.run_until(3.0)
    assert [r.state for r in fleet.replicas] == ["ready", "ready"]
    sinks = [request(fleet, loop, output_tokens=100) for _ in range(2)]
    fleet.scale_to(1)
    states = sorted(r.state for r in fleet.replicas)
    assert states == ["draining", "ready"]
    draining = next(r for r in fleet.replicas if r.state == "draining")
    assert all(request(fleet, loop)[2] != draining.index for _ in range(3))
    loop.run_for(10.0)
    assert draining.state == "stopped"
    assert all(sink.reason == "length" for sink, _, _ in sinks)
    # A later scale-up reuses the stopped slot: indices never change.
    fleet.scale_to(2, cold_start_s=0.0)
    assert len(fleet.replicas) == 2 and fleet.count("ready") == 2


def test_unknown_replica_names_the_known_ones() -> None:
    _, fleet = sim_fleet(replicas=2)
    with pytest.raises(ReplicaIndexError, match=r"Unknown replica 5; known: 0\.\.1"):
        fleet.kill(5, mode="error")


def test_error_rate_fails_the_chosen_fraction_with_the_chosen_codes() -> None:
    loop, fleet = sim_fleet(replicas=2)
    fleet.set_error_rate(None, 0.5, (429, 503))
    statuses: list[int] = []
    for _ in range(400):
        try:
            request(fleet, loop, output_tokens=1)
            statuses.append(200)
        except ApiError as err:
            statuses.append(err.status)
    failed = [s for s in statuses if s != 200]
    assert 0.4 < len(failed) / len(statuses) < 0.6
    assert set(failed) == {429, 503}
    assert fleet.rejections["injected_error"] == len(failed)
    assert sum(r.routed_total for r in fleet.replicas) == statuses.count(200)


def test_a_starting_fleet_answers_no_ready_replica_with_the_wait() -> None:
    loop, fleet = sim_fleet(replicas=1)
    fleet.hold_not_ready(None, 2.5)
    with pytest.raises(ApiError) as caught:
        request(fleet, loop)
    assert caught.value.code == "no_ready_replica"
    assert caught.value.headers["retry-after-ms"] == "2500"
    assert fleet.live and not fleet.ready


def test_a_runner_closed_behind_the_fleets_back_counts_as_failed() -> None:
    loop, fleet = sim_fleet(replicas=2, router="round_robin")
    fleet.replicas[0].runner.close()
    assert {request(fleet, loop)[2] for _ in range(3)} == {1}
    assert states(fleet) == ["failed", "ready"]
