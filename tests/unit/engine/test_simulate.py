"""The simulated-time driver: open and closed loop, and the queueing shape of an engine."""

from __future__ import annotations

import itertools
import statistics

import pytest

from target_stub.simulate import SimRequest, simulate
from tests.unit.engine.recording import tiny


def _closed_loop_run(concurrency: int) -> tuple[float, float]:
    """(output tokens/s, mean TTFT s) of ``concurrency`` users on the tiny preset, steady state."""
    n = 8 * concurrency
    # The first wave is staggered over 0.1 s; later requests are sent on completion.
    requests = [
        SimRequest(t_arrival_s=0.1 * i / concurrency, prompt_tokens=200, output_tokens=32)
        for i in range(n)
    ]
    results = simulate(tiny(), requests, concurrency=concurrency).results
    # Steady state: from the end of the first wave to the last send (then users drain).
    t_from_s = sorted(r.t_done_s or 0.0 for r in results)[concurrency - 1]
    t_to_s = results[-1].request.t_arrival_s
    tokens = sum(r.output_tokens for r in results if t_from_s < (r.t_done_s or 0.0) <= t_to_s)
    ttft_s = statistics.fmean(r.ttft_s or 0.0 for r in results[concurrency:-concurrency])
    return tokens / (t_to_s - t_from_s), ttft_s


def test_throughput_saturates_with_concurrency_while_ttft_keeps_growing() -> None:
    # tiny: max_num_seqs 32, so beyond 32 users requests queue for a slot.
    levels = [1, 4, 16, 32, 64, 128]
    runs = [_closed_loop_run(c) for c in levels]
    tps = [t for t, _ in runs]
    ttft = [t for _, t in runs]
    assert tps[1] > 3 * tps[0]  # batching: four users get nearly four times the tokens
    assert all(b > 0.98 * a for a, b in itertools.pairwise(tps))
    assert tps[-1] == pytest.approx(tps[-3], rel=0.03)  # the plateau past 32 slots
    assert all(b > a for a, b in itertools.pairwise(ttft))
    assert ttft[-1] > 3 * ttft[-3]  # queueing: TTFT explodes past the slot limit


def test_closed_loop_keeps_exactly_concurrency_requests_in_flight() -> None:
    requests = [
        SimRequest(t_arrival_s=0.001 * i, prompt_tokens=50, output_tokens=10 + i % 7)
        for i in range(40)
    ]
    outcome = simulate(tiny(), requests, concurrency=5)
    results = outcome.results
    assert all(
        r.t_done_s is not None and r.output_tokens == r.request.output_tokens for r in results
    )
    # Every request after the first five was sent the instant an earlier one finished.
    done_times = sorted(r.t_done_s or 0.0 for r in results)
    sent = sorted(r.request.t_arrival_s for r in results[5:])
    assert sent == pytest.approx(done_times[: len(sent)])
    for r in results:
        t = r.request.t_arrival_s
        in_flight = sum(1 for o in results if o.request.t_arrival_s <= t < (o.t_done_s or 0.0))
        assert in_flight <= 5


def test_open_loop_measures_from_arrival_and_keeps_requests_in_order() -> None:
    config = tiny(frontend_ms=3.0)
    requests = [
        SimRequest(t_arrival_s=1.0 + i, prompt_tokens=64, output_tokens=4) for i in range(3)
    ]
    outcome = simulate(config, requests)
    assert [r.request for r in outcome.results] == requests
    for r in outcome.results:
        assert r.ttft_s is not None and r.ttft_s > 0.003  # frontend + one prefill step
        assert r.ttft_s < 0.05  # an idle engine starts at once
        assert r.finish_reason == "length"


def test_until_s_stops_the_simulation_and_leaves_unfinished_requests_open() -> None:
    requests = [SimRequest(t_arrival_s=0.0, prompt_tokens=64, output_tokens=10_000)]
    outcome = simulate(tiny(), requests, until_s=1.0)
    assert outcome.end_s == 1.0
    assert outcome.results[0].t_done_s is None
    assert 0 < outcome.results[0].output_tokens < 10_000


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency=0"):
        simulate(tiny(), [], concurrency=0)
