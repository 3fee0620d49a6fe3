"""Property: for any workload, the engine conserves tokens and KV blocks.

Random arrivals, prompt and output lengths (KV so small that preemption is common), both
scheduler policies, aborts from outside mid-step and from inside a sink, and KV resizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_stub.engine import Engine, SchedulerPolicy, Sequence
from target_stub.simulate import SimClock
from tests.unit.engine.recording import RecordingSink, tiny


@dataclass(frozen=True)
class Arrival:
    step: int
    prompt_tokens: int
    output_tokens: int
    embedding: bool
    abort_at_step: int | None
    """Aborted from outside while that step is in flight."""
    abort_on_token: int | None
    """Aborted by its own sink when this token arrives."""


@dataclass(frozen=True)
class Workload:
    block_tokens: int
    kv_blocks: int
    budget_tokens: int
    max_num_seqs: int
    policy: SchedulerPolicy
    arrivals: tuple[Arrival, ...]
    resize: tuple[int, int] | None
    """(step, new KV blocks) -- never below what the largest request needs alone."""


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    block = draw(st.sampled_from([4, 16]))
    kv_blocks = draw(st.integers(8, 48))
    kv_tokens = kv_blocks * block
    arrivals = []
    for _ in range(draw(st.integers(1, 10))):
        prompt = draw(st.integers(1, kv_tokens - 1))
        output = draw(st.integers(1, min(60, kv_tokens - prompt)))
        arrivals.append(
            Arrival(
                step=draw(st.integers(0, 30)),
                prompt_tokens=prompt,
                output_tokens=output,
                embedding=draw(st.integers(0, 4)) == 0,
                abort_at_step=draw(st.none() | st.integers(0, 60)),
                abort_on_token=draw(st.none() | st.integers(1, output)),
            )
        )
    largest_blocks = max(-(-(a.prompt_tokens + a.output_tokens) // block) for a in arrivals)
    resize = draw(st.none() | st.tuples(st.integers(0, 60), st.integers(largest_blocks, 64)))
    return Workload(
        block_tokens=block,
        kv_blocks=kv_blocks,
        budget_tokens=draw(st.integers(16, 256)),
        max_num_seqs=draw(st.integers(1, 8)),
        policy=SchedulerPolicy(
            chunked_prefill=draw(st.booleans()), scheduler_steps=draw(st.integers(1, 4))
        ),
        arrivals=tuple(arrivals),
        resize=resize,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_every_sequence_finishes_exactly_once_with_its_tokens_and_kv_is_returned(
    w: Workload,
) -> None:
    clock = SimClock()
    config = tiny(
        block_size_tokens=w.block_tokens,
        kv_capacity_tokens=w.kv_blocks * w.block_tokens,
        max_num_batched_tokens=w.budget_tokens,
        max_num_seqs=w.max_num_seqs,
    )
    engine = Engine(config, clock=clock, policy=w.policy)
    seqs: list[tuple[Arrival, Sequence, RecordingSink]] = []
    aborted: set[int] = set()

    def quit_on(arrival: Arrival, sink: RecordingSink) -> None:
        def on_token(seq: Sequence, tokens: int) -> None:
            if tokens == arrival.abort_on_token:
                aborted.add(id(seq))
                engine.abort(seq)

        sink.on_token = on_token

    step = 0
    while step <= 60 or engine.has_work():
        assert step < 20_000, "engine did not drain"
        for arrival in (a for a in w.arrivals if a.step == step):
            sink = RecordingSink(clock)
            seq = Sequence(
                prompt_tokens=arrival.prompt_tokens,
                output_tokens=arrival.output_tokens,
                sink=sink,
                kind="embedding" if arrival.embedding else "text",
            )
            if arrival.abort_on_token is not None:
                quit_on(arrival, sink)
            engine.add(seq)
            seqs.append((arrival, seq, sink))
        if w.resize is not None and w.resize[0] == step:
            engine.resize_kv(w.resize[1] * w.block_tokens)
        duration_s = engine.plan_step()
        for arrival, seq, sink in seqs:
            if arrival.abort_at_step == step and not sink.finishes:
                aborted.add(id(seq))
                engine.abort(seq)
        if duration_s is not None:
            if w.policy.chunked_prefill:
                assert engine.last_step_tokens <= w.budget_tokens
            clock.now_s += duration_s
            engine.complete_step()
        assert engine.num_running <= w.max_num_seqs
        held = sum(s.blocks for _, s, _ in seqs if s.state == 1)
        assert held == engine.total_blocks - engine.free_blocks
        step += 1

    emitted = 0
    for arrival, seq, sink in seqs:
        emitted += sink.tokens
        if id(seq) in aborted:
            assert sink.finishes == []
            assert sink.tokens <= arrival.output_tokens
        elif arrival.embedding:
            assert (sink.tokens, sink.finishes) == (0, ["stop"])
        else:
            assert (sink.tokens, sink.finishes) == (arrival.output_tokens, ["length"])
    assert engine.free_blocks == engine.total_blocks
    assert (engine.num_running, engine.num_waiting, engine.waiting_prompt_tokens) == (0, 0, 0)
    assert engine.counters.generation_tokens_total == emitted
