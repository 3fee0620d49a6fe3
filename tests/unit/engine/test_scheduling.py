"""Scheduling of the text engine, stepped by hand in simulated time."""

from __future__ import annotations

from target_stub.engine import Engine, SchedulerPolicy
from target_stub.simulate import SimClock
from tests.unit.engine.recording import drain, make_seq, step, tiny


def test_decodes_get_a_token_every_step_while_a_long_prompt_prefills_in_chunks() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_batched_tokens=64), clock=clock)
    decoders = [make_seq(clock, 16, 400) for _ in range(8)]
    for seq, _ in decoders:
        engine.add(seq)
    while not all(sink.tokens for _, sink in decoders):  # 8 x 16 prompt tokens > 64
        step(engine, clock)
    long_seq, long_sink = make_seq(clock, 1000, 5)
    engine.add(long_seq)
    computed = steps = 0
    while long_sink.tokens == 0:
        before = [sink.tokens for _, sink in decoders]
        step(engine, clock)
        steps += 1
        assert engine.last_step_tokens <= 64
        assert [sink.tokens for _, sink in decoders] == [b + 1 for b in before]
        assert long_seq.computed - computed <= 64 - 8  # the rest of the budget, no more
        computed = long_seq.computed
    assert long_seq.computed == 1000
    assert steps == -(-1000 // (64 - 8))


def test_a_long_prompt_alone_is_chunked_within_max_num_batched_tokens() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_batched_tokens=64), clock=clock)
    seq, sink = make_seq(clock, 1000, 3)
    engine.add(seq)
    steps_to_first_token = 0
    while sink.tokens == 0:
        step(engine, clock)
        assert engine.last_step_tokens <= 64
        steps_to_first_token += 1
    assert steps_to_first_token == -(-1000 // 64)
    drain(engine, clock)
    assert sink.tokens == 3
    assert sink.finishes == ["length"]


def test_admission_stops_at_max_num_seqs() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_seqs=4), clock=clock)
    sinks = []
    for _ in range(10):
        seq, sink = make_seq(clock, 20, 50)
        engine.add(seq)
        sinks.append(sink)
    step(engine, clock)
    assert (engine.num_running, engine.num_waiting) == (4, 6)
    while any(not s.finishes for s in sinks):
        assert engine.num_running <= 4
        step(engine, clock)
    assert [s.tokens for s in sinks] == [50] * 10


def test_admission_stops_when_kv_blocks_run_out() -> None:
    clock = SimClock()
    # 10 blocks of 16 tokens; each 64-token prompt needs 4 blocks.
    engine = Engine(tiny(kv_capacity_tokens=160, block_size_tokens=16), clock=clock)
    for _ in range(3):
        engine.add(make_seq(clock, 64, 8)[0])
    step(engine, clock)
    assert (engine.num_running, engine.num_waiting) == (2, 1)
    assert engine.free_blocks == 10 - 2 * 4


def test_kv_exhaustion_preempts_the_newest_by_recompute_and_everyone_still_finishes() -> None:
    clock = SimClock()
    engine = Engine(tiny(kv_capacity_tokens=160, block_size_tokens=16), clock=clock)
    old_seq, old_sink = make_seq(clock, 64, 64)
    new_seq, new_sink = make_seq(clock, 64, 64)
    engine.add(old_seq)
    engine.add(new_seq)
    drain(engine, clock)
    # Two sequences of 64 + 64 tokens need 16 blocks; only 10 exist.
    assert engine.counters.preemptions_total >= 1
    assert old_seq.preemptions == 0
    assert new_seq.preemptions == engine.counters.preemptions_total
    assert (old_sink.tokens, new_sink.tokens) == (64, 64)
    assert old_sink.finishes == new_sink.finishes == ["length"]
    assert engine.free_blocks == engine.total_blocks
    # A recompute re-prefills prompt + generated tokens, but prompt tokens count once.
    assert engine.counters.prompt_tokens_total == 128
    assert engine.counters.generation_tokens_total == 128


def test_a_step_that_preempts_admits_nothing_new() -> None:
    clock = SimClock()
    engine = Engine(tiny(kv_capacity_tokens=160, block_size_tokens=16), clock=clock)
    engine.add(make_seq(clock, 64, 64)[0])
    engine.add(make_seq(clock, 64, 64)[0])
    while engine.counters.preemptions_total == 0:
        step(engine, clock)
    engine.add(make_seq(clock, 16, 4)[0])
    assert engine.num_waiting == 2  # the victim and the newcomer: nothing admitted


def test_shrinking_kv_preempts_newest_first_and_all_finish() -> None:
    clock = SimClock()
    engine = Engine(tiny(kv_capacity_tokens=32_768), clock=clock)
    pairs = [make_seq(clock, 200, 100) for _ in range(8)]
    for seq, _ in pairs:
        engine.add(seq)
    for _ in range(5):
        step(engine, clock)
    used_blocks = engine.total_blocks - engine.free_blocks
    engine.resize_kv(1024)  # 64 blocks; each sequence holds 13 (205 tokens)
    assert engine.total_blocks == 64
    assert engine.counters.preemptions_total == 4  # a storm, all in one call
    assert engine.total_blocks - engine.free_blocks <= 64 < used_blocks
    preempted = [seq.preemptions > 0 for seq, _ in pairs]
    assert preempted == sorted(preempted)  # the newest ones went first
    drain(engine, clock)
    assert [sink.tokens for _, sink in pairs] == [100] * 8
    assert engine.free_blocks == engine.total_blocks


def test_embeddings_finish_after_prefill_without_tokens() -> None:
    clock = SimClock()
    engine = Engine(tiny(max_num_batched_tokens=64), clock=clock)
    seq, sink = make_seq(clock, 100, 1, kind="embedding")
    engine.add(seq)
    assert drain(engine, clock) == 2  # 100 prompt tokens in chunks of 64
    assert sink.tokens == 0
    assert sink.finishes == ["stop"]
    assert seq.generated == 0
    assert engine.counters.prompt_tokens_total == 100
    assert engine.free_blocks == engine.total_blocks


def test_vllm_060_policy_runs_prefill_only_steps_and_admits_every_k_steps() -> None:
    clock = SimClock()
    policy = SchedulerPolicy(chunked_prefill=False, scheduler_steps=4)
    engine = Engine(tiny(), clock=clock, policy=policy)
    decoders = [make_seq(clock, 16, 100) for _ in range(3)]
    for seq, _ in decoders:
        engine.add(seq)
    step(engine, clock)  # a prefill-only step: every prompt whole
    step(engine, clock)  # first step of a 4-step decode run
    newcomer, new_sink = make_seq(clock, 32, 5)
    engine.add(newcomer)
    tokens = []
    for _ in range(4):
        step(engine, clock)
        tokens.append((decoders[0][1].tokens, new_sink.tokens))
    # Three more decode steps of the run, then a prefill-only step for the newcomer in
    # which the decoders get nothing.
    assert tokens == [(3, 0), (4, 0), (5, 0), (5, 1)]
    step(engine, clock)
    assert (decoders[0][1].tokens, new_sink.tokens) == (6, 2)
