"""Aborts (client gone, replica killed) and sinks that re-enter the engine."""

from __future__ import annotations

import pytest

from target_stub.engine import Engine, Sequence
from target_stub.engines import AnyEngine, create_engine
from target_stub.simulate import SimClock
from tests.unit.engine.recording import RecordingSink, drain, make_seq, step, tiny


def test_abort_frees_the_slot_and_blocks_immediately_even_mid_step() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_seqs=2), clock=clock)
    pairs = [make_seq(clock, 100, 50) for _ in range(3)]
    for seq, _ in pairs:
        engine.add(seq)
    step(engine, clock)
    assert (engine.num_running, engine.num_waiting) == (2, 1)
    victim, victim_sink = pairs[0]
    assert engine.plan_step() is not None
    free_before, held = engine.free_blocks, victim.blocks
    assert held == 7  # 101 tokens in blocks of 16
    engine.abort(victim)  # while its step is in flight
    assert engine.free_blocks == free_before + held
    assert engine.num_running == 1
    clock.now_s += 0.01
    engine.complete_step()
    assert victim_sink.tokens == 1  # nothing from the step it was aborted in
    step(engine, clock)
    assert engine.num_running == 2  # the freed slot was reused
    for seq, _ in pairs:
        engine.abort(seq)
    assert engine.free_blocks == engine.total_blocks
    assert not engine.has_work()
    assert all(sink.finishes == [] for _, sink in pairs)  # abort is quiet


def test_abort_of_a_waiting_or_finished_sequence_is_harmless() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_seqs=1), clock=clock)
    first, first_sink = make_seq(clock, 10, 2)
    queued, _ = make_seq(clock, 10, 2)
    engine.add(first)
    engine.add(queued)
    engine.abort(queued)
    assert (engine.num_waiting, engine.waiting_prompt_tokens) == (1, 10)
    drain(engine, clock)
    engine.abort(first)
    assert first_sink.finishes == ["length"]
    assert engine.free_blocks == engine.total_blocks


@pytest.mark.parametrize("kind", ["text", "fixed", "image"])
def test_abort_all_finishes_every_sequence_once_with_abort(kind: str) -> None:
    clock = SimClock()
    engine = _engine(kind, clock)
    pairs = [make_seq(clock, 50, 30) for _ in range(10)]
    for seq, _ in pairs:
        engine.add(seq)
    step(engine, clock)
    victims = engine.abort_all()
    assert {id(v) for v in victims} == {id(seq) for seq, _ in pairs}
    assert [sink.finishes for _, sink in pairs] == [["abort"]] * 10
    assert engine.counters.finished_total == {"abort": 10}
    assert not engine.has_work()
    assert engine.free_blocks == engine.total_blocks
    assert engine.plan_step() is None


def test_a_sink_aborting_its_own_sequence_on_the_third_token_leaves_state_consistent() -> None:
    clock = SimClock()
    engine = Engine(tiny(kv_capacity_tokens=2048), clock=clock)
    pairs = [make_seq(clock, 100, 40) for _ in range(6)]
    quitter, quitter_sink = pairs[2]

    def quit_on_third(seq: Sequence, tokens: int) -> None:
        if tokens == 3:
            engine.abort(seq)

    quitter_sink.on_token = quit_on_third
    for seq, _ in pairs:
        engine.add(seq)
    while engine.has_work():
        step(engine, clock)
        assert engine.num_running == len([s for s, _ in pairs if s.state == 1])
    assert quitter_sink.tokens == 3
    assert quitter_sink.finishes == []
    others = [sink for seq, sink in pairs if seq is not quitter]
    assert [sink.tokens for sink in others] == [40] * 5
    assert all(sink.finishes == ["length"] for sink in others)
    assert engine.free_blocks == engine.total_blocks


@pytest.mark.parametrize("kind", ["text", "fixed"])
def test_a_sink_aborting_others_and_killing_the_replica_mid_step(kind: str) -> None:
    clock = SimClock()
    engine = _engine(kind, clock)
    # Short outputs finish in the same step as the first token of the long ones.
    short = [make_seq(clock, 10, 1) for _ in range(3)]
    long = [make_seq(clock, 10, 20) for _ in range(3)]
    _killer_seq, killer_sink = long[0]

    def kill(seq: Sequence, tokens: int) -> None:
        engine.abort(long[1][0])
        engine.abort_all()

    killer_sink.on_token = kill
    for seq, _ in short + long:
        engine.add(seq)
    drain(engine, clock)
    finishes = [sink.finishes for _, sink in short + long]
    # Whatever finished before the kill finished once; the rest got exactly one abort,
    # except the sequence aborted quietly (a client gone) just before the kill.
    assert all(len(f) <= 1 for f in finishes)
    assert long[1][1].finishes == []
    assert killer_sink.finishes == ["abort"]
    assert long[2][1].finishes == ["abort"]
    assert engine.free_blocks == engine.total_blocks
    assert not engine.has_work()


def _engine(kind: str, clock: SimClock) -> AnyEngine:
    if kind == "fixed":
        return create_engine(tiny(fixed_ttft_ms=5.0, fixed_itl_ms=2.0), clock=clock)
    if kind == "image":
        config = tiny(kind="image", image_steps=5, image_step_ms=10.0, image_max_batch=4)
        return create_engine(config, clock=clock)
    return create_engine(tiny(), clock=clock)


def test_recording_sink_rejects_tokens_after_finish() -> None:
    # The sink is the assertion behind "the engine never emits tokens after finish".
    clock = SimClock()
    sink = RecordingSink(clock)
    seq = Sequence(prompt_tokens=1, output_tokens=1, sink=sink)
    sink.on_finish(seq, "stop")
    with pytest.raises(AssertionError, match="tokens after finish"):
        sink.on_tokens(seq, 1)
