"""Fault specs (text and JSON forms) and the injector's scheduling, combining and clearing."""

from __future__ import annotations

import pytest

from target_stub.cluster import ReplicaIndexError
from target_stub.fault_injector import FaultInjector
from target_stub.faults import (
    ErrorRateFault,
    KillFault,
    ShrinkKvFault,
    SlowFault,
    StallFault,
    StartupDelayFault,
    parse_fault_spec,
)

from .recording import request, sim_fleet, states


def test_text_form_parses_every_kind() -> None:
    assert parse_fault_spec("kill:replica=1,mode=drop,after_s=30,restart_after_s=60") == KillFault(
        replica=1, mode="drop", after_s=30.0, restart_after_s=60.0
    )
    assert parse_fault_spec("kill:replica=0,restart_after_s=none") == KillFault(replica=0)
    assert parse_fault_spec("slow:replica=0,factor=2.5,duration_s=10") == SlowFault(
        replica=0, factor=2.5, duration_s=10.0
    )
    assert parse_fault_spec("stall:replica=2") == StallFault(replica=2)
    assert parse_fault_spec("shrink_kv:replica=0,kv_capacity_frac=0.25") == ShrinkKvFault(
        replica=0, kv_capacity_frac=0.25
    )
    assert parse_fault_spec("error_rate:rate_frac=0.1,status_codes=429|503") == ErrorRateFault(
        rate_frac=0.1, status_codes=(429, 503)
    )
    assert parse_fault_spec("startup_delay:delay_s=5") == StartupDelayFault(delay_s=5.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode:replica=0", "Unknown fault kind 'explode'.*known: kill, slow, stall"),
        ("slow:replica=0", "factor: Field required"),
        ("kill:replica=0,mode=maybe", "mode: Input should be 'error' or 'drop'"),
        ("kill:replica", "'replica' .* is not key=value"),
        ("error_rate:rate_frac=0.1,status_codes=200", "status_codes.0: Input should be greater"),
        ("kill:replica=0,speed=3", "speed: Extra inputs are not permitted"),
    ],
)
def test_bad_text_forms_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault_spec(text)


def test_scheduled_fault_acts_after_its_delay_and_clears_after_its_duration() -> None:
    loop, fleet = sim_fleet(replicas=1)
    faults = FaultInjector(fleet)
    fault = faults.apply(SlowFault(replica=0, factor=4.0, after_s=2.0, duration_s=3.0))
    assert fault.status == "scheduled"
    loop.run_until(1.99)
    assert fleet.replicas[0].slow_factor == 1.0
    loop.run_until(2.0)
    assert faults.faults[fault.id].to_json()["status"] == "active"
    assert fleet.replicas[0].slow_factor == 4.0
    assert faults.active_counts() == {("slow", "0"): 1}
    loop.run_until(5.0)
    assert fleet.replicas[0].slow_factor == 1.0
    assert faults.faults == {} and faults.applied_total == {"slow": 1}


def test_faults_on_one_replica_combine_and_clearing_one_keeps_the_other() -> None:
    _, fleet = sim_fleet(replicas=1)
    faults = FaultInjector(fleet)
    a = faults.apply(SlowFault(replica=0, factor=2.0))
    faults.apply(SlowFault(replica=0, factor=3.0))
    faults.apply(StallFault(replica=0))
    assert fleet.replicas[0].slow_factor == 6.0 and fleet.replicas[0].stalled
    faults.clear(a.id)
    assert fleet.replicas[0].slow_factor == 3.0 and fleet.replicas[0].stalled
    assert faults.clear_all() == 2
    assert fleet.replicas[0].slow_factor == 1.0 and not fleet.replicas[0].stalled


def test_kill_restarts_after_delay_then_cold_start() -> None:
    loop, fleet = sim_fleet(replicas=2)
    faults = FaultInjector(fleet)
    sink, _, index = request(fleet, loop, output_tokens=400)
    loop.run_for(0.1)
    faults.apply(KillFault(replica=index, mode="drop", restart_after_s=10.0, cold_start_s=5.0))
    assert sink.reason == "abort" and fleet.replicas[index].abort_mode == "drop"
    loop.run_until(9.9)
    assert states(fleet)[index] == "failed"
    loop.run_until(10.2)
    assert states(fleet)[index] == "starting"
    loop.run_until(15.2)
    assert states(fleet)[index] == "ready"
    assert faults.faults == {}


def test_restore_clears_a_replicas_faults_and_restarts_it() -> None:
    _, fleet = sim_fleet(replicas=2)
    faults = FaultInjector(fleet)
    faults.apply(KillFault(replica=1))
    faults.apply(ShrinkKvFault(replica=1, kv_capacity_frac=0.5))
    faults.apply(SlowFault(replica=0, factor=2.0))
    cleared = faults.restore(1)
    assert {f.spec.kind for f in cleared} == {"kill", "shrink_kv"}
    assert fleet.replicas[1].state == "ready" and fleet.replicas[1].kv_capacity_frac == 1.0
    assert [f.spec.kind for f in faults.faults.values()] == ["slow"]


def test_killing_a_failed_or_unknown_replica_is_refused() -> None:
    _, fleet = sim_fleet(replicas=1)
    faults = FaultInjector(fleet)
    faults.apply(KillFault(replica=0))
    with pytest.raises(ReplicaIndexError, match="Replica 0 is failed") as caught:
        faults.apply(KillFault(replica=0))
    assert caught.value.status == 409
    with pytest.raises(ReplicaIndexError) as unknown:
        faults.apply(StallFault(replica=3))
    assert unknown.value.status == 404
    assert len(faults.faults) == 1


def test_startup_delay_makes_the_fleet_unready_until_it_ends() -> None:
    loop, fleet = sim_fleet(replicas=2)
    faults = FaultInjector(fleet)
    faults.apply(StartupDelayFault(delay_s=3.0))
    assert not fleet.ready and fleet.live
    loop.run_until(2.9)
    assert not fleet.ready
    loop.run_until(3.0)
    assert fleet.ready and fleet.count("ready") == 2


def test_error_rate_on_one_replica_spares_the_others() -> None:
    loop, fleet = sim_fleet(replicas=2, router="round_robin")
    faults = FaultInjector(fleet)
    faults.apply(ErrorRateFault(replica=0, rate_frac=1.0, status_codes=(500,)))
    outcomes: list[int | str] = []
    for _ in range(10):
        try:
            outcomes.append(request(fleet, loop)[2])
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes.count(1) == 5 and outcomes.count("ApiError") == 5
    faults.clear_all()
    assert {request(fleet, loop)[2] for _ in range(4)} == {0, 1}
