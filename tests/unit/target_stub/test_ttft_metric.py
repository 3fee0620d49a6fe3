"""``vllm:time_to_first_token_seconds`` is observed at the first output, as vLLM does: a
scrape during a stream already holds it, it counts requests that produced a first token
(not finished ones), and a request that ends before its first token adds nothing.

Every fleet here runs on a simulated-time loop; the exposition is parsed with
prometheus_client's parser, as a Prometheus server would read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from target_stub.cluster import Fleet
from target_stub.engine import FinishReason, Sequence, SequenceKind
from target_stub.engine_config import EngineConfig, engine_preset
from target_stub.fleet_config import FleetConfig
from target_stub.metrics import TTFT_BUCKETS_S, FleetMetrics
from target_stub.sim_loop import SimLoop

TTFT = "vllm:time_to_first_token_seconds"
E2E = "vllm:e2e_request_latency_seconds"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Client:
    """The engine's side of one request: when it was sent, its output times, its end."""

    loop: SimLoop
    seq: Sequence = field(init=False)
    t_sent_s: float = 0.0
    token_times_s: list[float] = field(default_factory=list)
    t_result_s: float | None = None
    reason: FinishReason | None = None

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        self.token_times_s.extend([self.loop.time()] * n_new)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        assert self.reason is None, "on_finish called twice"
        self.reason = reason
        self.t_result_s = self.loop.time()

    @property
    def ttft_s(self) -> float | None:
        """From sending to the first output: a token, or the whole result for an image or
        an embedding. vLLM's server-side TTFT starts at the engine's arrival; the stub adds
        the frontend delay back, so the two agree exactly here."""
        if self.token_times_s:
            return self.token_times_s[0] - self.t_sent_s
        if self.reason is not None and self.reason != "abort" and self.t_result_s is not None:
            return self.t_result_s - self.t_sent_s
        return None


def config(name: str, **overrides: Any) -> EngineConfig:
    presets: dict[str, dict[str, Any]] = {
        "model": {},
        "fixed": {"fixed_ttft_ms": 50.0, "fixed_itl_ms": 10.0},
        "image": {"kind": "image", "image_steps": 10, "image_step_ms": 20.0},
    }
    base = {**engine_preset("tiny").model_dump(), **presets[name], **overrides}
    return EngineConfig.model_validate(base)


def fleet_of(engine: EngineConfig) -> tuple[SimLoop, Fleet, FleetMetrics]:
    loop = SimLoop()
    fleet = Fleet(engine, FleetConfig(replicas=1), loop=loop)
    return loop, fleet, FleetMetrics(fleet)


def send(
    fleet: Fleet,
    loop: SimLoop,
    *,
    prompt_tokens: int = 32,
    output_tokens: int = 2_000,
    kind: SequenceKind = "text",
) -> Client:
    client = Client(loop, t_sent_s=loop.time())
    client.seq = Sequence(
        prompt_tokens=prompt_tokens, output_tokens=output_tokens, sink=client, kind=kind
    )
    fleet.submit(client.seq)
    return client


def run_until(loop: SimLoop, done: Callable[[], bool], *, limit_s: float = 30.0) -> None:
    """Advance simulated time in 1 ms slices until ``done()``; fails past ``limit_s``."""
    deadline_s = loop.time() + limit_s
    while not done():
        assert loop.time() < deadline_s, f"not done after {limit_s} simulated seconds"
        loop.run_for(0.001)


def scrape(metrics: FleetMetrics) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(metrics.render()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, name: str) -> float:
    (v,) = [v for (n, _), v in samples.items() if n == name]  # one replica: one sample
    return v


def buckets(samples: Samples, name: str) -> dict[float, float]:
    """Cumulative count per upper bound ``le`` (``+Inf`` as math.inf)."""
    return {
        float(dict(labels)["le"]): v for (n, labels), v in samples.items() if n == f"{name}_bucket"
    }


def assert_ttfts(samples: Samples, clients: list[Client]) -> None:
    """The histogram holds exactly these clients' TTFTs, each in its own bucket."""
    ttfts = [c.ttft_s for c in clients if c.ttft_s is not None]
    assert value(samples, f"{TTFT}_count") == len(ttfts)
    assert value(samples, f"{TTFT}_sum") == pytest.approx(sum(ttfts), abs=1e-9)
    got = buckets(samples, TTFT)
    for bound in TTFT_BUCKETS_S:
        assert got[bound] == sum(1 for t in ttfts if t <= bound), f"le={bound}"


@pytest.mark.parametrize("engine", ["model", "fixed"])
def test_a_scrape_during_a_stream_already_holds_its_ttft(engine: str) -> None:
    loop, fleet, metrics = fleet_of(config(engine))
    client = send(fleet, loop, output_tokens=2_000)
    run_until(loop, lambda: len(client.token_times_s) >= 5)

    samples = scrape(metrics)
    assert client.reason is None  # still streaming
    assert value(samples, f"{E2E}_count") == 0
    assert_ttfts(samples, [client])
    ttft_s = client.ttft_s
    assert ttft_s is not None and ttft_s > 0
    got = buckets(samples, TTFT)
    first_bound = min(b for b in TTFT_BUCKETS_S if b >= ttft_s)
    assert got[first_bound] == 1
    assert all(got[b] == 0 for b in TTFT_BUCKETS_S if b < first_bound)
    if engine == "fixed":
        # Exact timing: 50 ms lands in vLLM's (0.04, 0.06] bucket.
        assert ttft_s == pytest.approx(0.050, abs=1e-12)
        assert (got[0.04], got[0.06]) == (0, 1)

    run_until(loop, lambda: client.reason is not None)
    samples = scrape(metrics)
    assert client.reason == "length"
    assert value(samples, f"{E2E}_count") == 1
    assert_ttfts(samples, [client])  # still once, with the same value


@pytest.mark.parametrize("engine", ["model", "fixed"])
def test_ttft_counts_requests_with_a_first_token_not_finished_ones(engine: str) -> None:
    # Four sequences at a time (the model engine) and 3 short requests among 10: at the
    # scrape, some are finished, some are streaming and (model engine) some still wait.
    loop, fleet, metrics = fleet_of(config(engine, max_num_seqs=4))
    clients = [send(fleet, loop, output_tokens=3 if i < 3 else 5_000) for i in range(10)]
    run_until(loop, lambda: sum(1 for c in clients if c.reason is not None) == 3)
    loop.run_for(0.2)

    samples = scrape(metrics)
    started = sum(1 for c in clients if c.token_times_s)
    finished = sum(1 for c in clients if c.reason is not None)
    assert (finished, value(samples, f"{E2E}_count")) == (3, 3)
    assert started > finished
    if engine == "model":
        assert started == 3 + 4  # the rest wait for a batch slot: no first token yet
    assert_ttfts(samples, clients)


@pytest.mark.parametrize(
    ("engine", "kind"),
    [("model", "embedding"), ("fixed", "embedding"), ("fixed", "image"), ("image", "image")],
)
def test_a_result_without_a_stream_has_its_ttft_when_the_result_is_ready(
    engine: str, kind: SequenceKind
) -> None:
    loop, fleet, metrics = fleet_of(config(engine))
    client = send(fleet, loop, prompt_tokens=3_000, output_tokens=1, kind=kind)
    loop.run_for(0.002)
    assert client.reason is None  # prefill, TTFT wait or denoising still running
    assert value(scrape(metrics), f"{TTFT}_count") == 0

    run_until(loop, lambda: client.reason is not None)
    samples = scrape(metrics)
    assert client.reason == "stop"
    assert_ttfts(samples, [client])
    assert value(samples, f"{TTFT}_sum") == pytest.approx(value(samples, f"{E2E}_sum"))


@pytest.mark.parametrize("engine", ["model", "fixed", "image"])
def test_a_request_that_ends_before_its_first_token_adds_no_ttft(engine: str) -> None:
    # The model engine runs one sequence at a time, so `waiting` really waits; the fixed
    # engine's requests are still inside their 50 ms TTFT; images are mid-denoising.
    loop, fleet, metrics = fleet_of(config(engine, max_num_seqs=1, frontend_ms=5.0))
    kind: SequenceKind = "image" if engine == "image" else "text"
    first = send(fleet, loop, output_tokens=5_000, kind=kind)
    if engine == "image":
        run_until(loop, lambda: first.reason is not None)
    else:
        run_until(loop, lambda: bool(first.token_times_s))
    streaming = send(fleet, loop, output_tokens=5_000, kind=kind)
    waiting = send(fleet, loop, output_tokens=5_000, kind=kind)
    client_gone = send(fleet, loop, output_tokens=5_000, kind=kind)
    loop.run_for(0.010)
    fleet.replicas[0].abort(client_gone.seq)
    in_frontend = send(fleet, loop, output_tokens=5_000, kind=kind)
    fleet.kill(0, mode="error")
    loop.run_for(1.0)

    samples = scrape(metrics)
    never = [waiting, client_gone, in_frontend]
    if engine != "model":
        never.append(streaming)  # no slot limit: it is inside its TTFT wait or denoising
    assert all(not c.token_times_s and c.ttft_s is None for c in never)
    assert [c.reason for c in (waiting, in_frontend)] == ["abort", "abort"]
    # Only the first request (and, on the model engine, nothing else) produced output;
    # a stream killed after its first token keeps its TTFT, as in vLLM.
    assert value(samples, f"{TTFT}_count") == 1
    assert_ttfts(samples, [first, streaming, waiting, client_gone, in_frontend])


def test_preemption_delays_the_first_token_and_never_repeats_it() -> None:
    # Chunked prefill of 63 tokens a step next to one decode: the long prompt is still
    # prefilling when the KV cache shrinks to 4 blocks, so it (the newest) is preempted
    # before its first token; later both are preempted again after their first tokens.
    loop, fleet, metrics = fleet_of(config("model", max_num_batched_tokens=64))
    replica = fleet.replicas[0]
    short = send(fleet, loop, prompt_tokens=16, output_tokens=5_000)
    run_until(loop, lambda: bool(short.token_times_s))
    long = send(fleet, loop, prompt_tokens=1_024, output_tokens=5_000)
    run_until(loop, lambda: long.seq.computed >= 256)
    replica.set_kv_capacity_frac(64 / replica.engine.config.kv_capacity_tokens)
    assert (long.seq.preemptions, long.seq.first_token_s) == (1, None)
    assert value(scrape(metrics), f"{TTFT}_count") == 1
    loop.run_for(0.05)
    replica.set_kv_capacity_frac(1.0)
    run_until(loop, lambda: bool(long.token_times_s))
    assert_ttfts(scrape(metrics), [short, long])

    replica.set_kv_capacity_frac(16 / replica.engine.config.kv_capacity_tokens)
    assert short.seq.preemptions == 1 and long.seq.preemptions == 2
    replica.set_kv_capacity_frac(1.0)
    tokens_before = len(short.token_times_s), len(long.token_times_s)
    run_until(loop, lambda: len(long.token_times_s) > tokens_before[1] + 10)
    assert len(short.token_times_s) > tokens_before[0]  # both recomputed and go on
    samples = scrape(metrics)
    assert value(samples, f"{TTFT}_count") == 2
    assert_ttfts(samples, [short, long])
