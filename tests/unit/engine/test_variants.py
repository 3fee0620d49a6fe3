"""The fixed-timing and image engines behind the same interface."""

from __future__ import annotations

import pytest

from target_stub.engines import create_engine
from target_stub.fixed_engine import FixedLatencyEngine
from target_stub.image_engine import ImageEngine
from target_stub.perf_model import image_step_time_ms
from target_stub.simulate import SimClock, SimRequest, simulate
from tests.unit.engine.recording import drain, make_seq, tiny


@pytest.mark.parametrize("concurrent", [1, 50, 2000])
def test_fixed_engine_delivers_exact_ttft_and_itl_whatever_the_concurrency(
    concurrent: int,
) -> None:
    config = tiny(fixed_ttft_ms=200.0, fixed_itl_ms=20.0)
    # Staggered arrivals, so due times of different requests interleave.
    requests = [
        SimRequest(t_arrival_s=0.0013 * i, prompt_tokens=100, output_tokens=16)
        for i in range(concurrent)
    ]
    outcome = simulate(config, requests, keep_token_times=True)
    for res in outcome.results:
        assert res.token_times_s is not None
        assert len(res.token_times_s) == 16
        assert res.finish_reason == "length"
        due_s = [res.request.t_arrival_s + 0.200 + 0.020 * k for k in range(16)]
        # Token k is due at arrival + TTFT + k * ITL: never late and never drifting; at
        # most the engine's coalescing window (0.2 ms) early, when it shares a timer.
        for got, due in zip(res.token_times_s, due_s, strict=True):
            assert due - 0.0002 - 1e-9 <= got <= due + 1e-9
    if concurrent == 1:
        assert outcome.results[0].ttft_s == pytest.approx(0.200, abs=1e-12)


def test_fixed_engine_finishes_embeddings_at_ttft() -> None:
    clock = SimClock()
    engine = create_engine(tiny(fixed_ttft_ms=50.0, fixed_itl_ms=10.0), clock=clock)
    assert isinstance(engine, FixedLatencyEngine)
    seq, sink = make_seq(clock, 30, 1, kind="embedding")
    engine.add(seq)
    drain(engine, clock)
    assert (sink.tokens, sink.finishes) == (0, ["stop"])
    assert clock.now_s == pytest.approx(0.05)


def test_image_engine_batches_up_to_its_limit_and_queues_the_rest() -> None:
    clock = SimClock()
    config = tiny(kind="image", image_steps=30, image_step_ms=45.0, image_max_batch=4)
    engine = create_engine(config, clock=clock)
    assert isinstance(engine, ImageEngine)
    pairs = [make_seq(clock, 20, 1, kind="image") for _ in range(10)]
    finished_at: list[float] = []
    for seq, _ in pairs:
        engine.add(seq)
    while engine.has_work():
        duration_s = engine.plan_step()
        assert duration_s is not None
        assert engine.num_running == min(4, 10 - len(finished_at))
        assert engine.num_waiting == max(0, 6 - len(finished_at))
        clock.now_s += duration_s
        before = sum(1 for _, sink in pairs if sink.finishes)
        engine.complete_step()
        after = sum(1 for _, sink in pairs if sink.finishes)
        finished_at.extend([clock.now_s] * (after - before))
    full_s = 30 * image_step_time_ms(45.0, 4, 0.8) / 1000.0
    pair_s = 30 * image_step_time_ms(45.0, 2, 0.8) / 1000.0
    expected = [full_s] * 4 + [2 * full_s] * 4 + [2 * full_s + pair_s] * 2
    assert finished_at == pytest.approx(expected)
    assert all(sink.finishes == ["stop"] for _, sink in pairs)
    assert all(seq.generated == 1 and seq.first_token_s == seq.finished_s for seq, _ in pairs)


def test_image_results_arrive_whole_and_queue_for_gpu_time_in_simulation() -> None:
    config = tiny(kind="image", image_steps=10, image_step_ms=20.0, image_max_batch=2)
    requests = [
        SimRequest(t_arrival_s=0.0, prompt_tokens=20, output_tokens=1, kind="image")
        for _ in range(4)
    ]
    outcome = simulate(config, requests)
    assert all(r.ttft_s == r.e2e_s and r.output_tokens == 1 for r in outcome.results)
    alone_s = 10 * 20.0 / 1000.0
    ttfts = sorted(r.ttft_s or 0.0 for r in outcome.results)
    # Two at a time: the second pair waits for the first (jobs join at step boundaries).
    assert ttfts[1] < 1.5 * alone_s < ttfts[2]
    assert ttfts[3] < 3.0 * alone_s
