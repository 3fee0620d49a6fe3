"""The simulated-time loop runs the real runner exactly like the calibrated simulator, and
fault bookkeeping always matches the faults still active."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_stub.engine import Sequence
from target_stub.fault_injector import FaultInjector
from target_stub.faults import ShrinkKvFault, SlowFault, StallFault
from target_stub.sim_loop import SimLoop
from target_stub.simulate import SimRequest, simulate

from .recording import RecordingSink, sim_fleet, small_engine


def test_callbacks_run_in_time_then_schedule_order_and_cancel() -> None:
    loop = SimLoop()
    seen: list[str] = []
    loop.call_later(2.0, seen.append, "late")
    loop.call_at(1.0, seen.append, "first")
    loop.call_at(1.0, seen.append, "second")
    loop.call_later(1.5, seen.append, "cancelled").cancel()
    loop.run_until(1.5)
    assert seen == ["first", "second"] and loop.time() == 1.5
    loop.run_for(1.0)
    assert seen == ["first", "second", "late"] and loop.time() == 2.5


def test_fleet_on_sim_loop_matches_the_simulator() -> None:
    engine = small_engine()
    arrivals = [SimRequest(t_arrival_s=i * 0.013, prompt_tokens=50 + i, output_tokens=20 + i % 7)
                for i in range(40)]  # fmt: skip
    expected = simulate(engine, arrivals, replicas=2, router="round_robin").results
    loop, fleet = sim_fleet(replicas=2, router="round_robin", engine=engine)
    sinks: list[RecordingSink] = []

    def arrive(req: SimRequest) -> None:
        sink = RecordingSink(loop)
        sinks.append(sink)
        fleet.submit(Sequence(req.prompt_tokens, req.output_tokens, sink))

    for req in arrivals:
        loop.call_at(req.t_arrival_s, arrive, req)
    loop.run_until(60.0)
    for sink, result in zip(sinks, expected, strict=True):
        assert sink.token_times_s[0] == pytest.approx(result.t_first_token_s, abs=1e-9)
        assert sink.t_done_s == pytest.approx(result.t_done_s, abs=1e-9)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("slow"), st.integers(0, 1), st.sampled_from([0.5, 2.0, 3.0])),
        st.tuples(st.just("stall"), st.integers(0, 1), st.just(0.0)),
        st.tuples(st.just("kv"), st.integers(0, 1), st.sampled_from([0.25, 0.5])),
        st.tuples(st.just("clear"), st.integers(0, 20), st.just(0.0)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=_OPS)
def test_replica_knobs_always_match_the_active_faults(ops: list[tuple[str, int, float]]) -> None:
    _, fleet = sim_fleet(replicas=2)
    faults = FaultInjector(fleet)
    for kind, target, value in ops:
        if kind == "slow":
            faults.apply(SlowFault(replica=target, factor=value))
        elif kind == "stall":
            faults.apply(StallFault(replica=target))
        elif kind == "kv":
            faults.apply(ShrinkKvFault(replica=target, kv_capacity_frac=value))
        elif faults.faults:
            ids = sorted(faults.faults)
            faults.clear(ids[target % len(ids)])
        for replica in fleet.replicas:
            mine = [f.spec for f in faults.faults.values() if f.spec.replica == replica.index]
            slow = 1.0
            for spec in mine:
                if isinstance(spec, SlowFault):
                    slow *= spec.factor
            assert replica.slow_factor == pytest.approx(slow)
            assert replica.stalled == any(isinstance(s, StallFault) for s in mine)
            kv = min(
                (s.kv_capacity_frac for s in mine if isinstance(s, ShrinkKvFault)), default=1.0
            )
            assert replica.kv_capacity_frac == kv
    faults.clear_all()
    assert all(r.slow_factor == 1.0 and not r.stalled and r.kv_capacity_frac == 1.0
               for r in fleet.replicas)  # fmt: skip
