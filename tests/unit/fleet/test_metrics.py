"""The Prometheus exposition: parses, uses vLLM's names and buckets, and its counters agree
with the requests a simulated client sent."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from target_stub.fault_injector import FaultInjector
from target_stub.faults import KillFault, SlowFault
from target_stub.metrics import FleetMetrics, Histogram, buckets_1_2_5

from .recording import RecordingSink, request, sim_fleet

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return types, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def test_buckets_match_vllm() -> None:
    assert buckets_1_2_5(100) == (1, 2, 5, 10, 20, 50, 100)
    hist = Histogram((0.1, 1.0))
    for value in (0.1, 0.5, 2.0):
        hist.observe(value)
    assert hist.counts == [1, 1, 1]  # le is inclusive: 0.1 lands in the 0.1 bucket


def test_counters_agree_with_what_was_sent() -> None:
    loop, fleet = sim_fleet(replicas=2)
    faults = FaultInjector(fleet)
    metrics = FleetMetrics(fleet, faults)
    prompts = [17, 40, 100, 250, 64, 8]
    outputs = [5, 12, 30, 1, 64, 20]
    sinks: list[tuple[RecordingSink, int]] = []
    for p, o in zip(prompts, outputs, strict=True):
        sink, _, index = request(fleet, loop, prompt_tokens=p, output_tokens=o)
        sinks.append((sink, index))
    loop.run_for(10.0)
    long_sink, _, killed = request(fleet, loop, prompt_tokens=10, output_tokens=10_000)
    loop.run_for(0.5)
    faults.apply(KillFault(replica=killed))
    faults.apply(SlowFault(replica=1 - killed, factor=2.0))

    types, samples = parse(metrics.render())
    model = fleet.engine_config.model
    assert types["vllm:prompt_tokens"] == "counter"
    assert types["vllm:time_to_first_token_seconds"] == "histogram"
    assert types["vllm:num_requests_running"] == "gauge"
    assert total(samples, "vllm:prompt_tokens_total", model_name=model) == sum(prompts) + 10
    assert total(samples, "vllm:generation_tokens_total") == sum(outputs) + len(
        long_sink.token_times_s
    )
    assert total(samples, "vllm:request_success_total", finished_reason="length") == 6
    assert total(samples, "vllm:request_success_total", finished_reason="abort") == 1
    assert total(samples, "vllm:e2e_request_latency_seconds_count") == 6
    assert long_sink.token_times_s  # killed after its first token: it keeps its TTFT
    assert total(samples, "vllm:time_to_first_token_seconds_count") == 7
    itl_count = total(samples, "vllm:inter_token_latency_seconds_count")
    assert itl_count == sum(o - 1 for o in outputs)
    itl_sum = total(samples, "vllm:inter_token_latency_seconds_sum")
    gaps = sum(s.token_times_s[-1] - s.token_times_s[0] for s, _ in sinks)
    assert abs(itl_sum - gaps) < 1e-9
    for index in (0, 1):
        mine = sum(1 for _, i in sinks if i == index)
        assert total(samples, "vllm:e2e_request_latency_seconds_count", engine=str(index)) == mine
    assert total(samples, "surgebench:router_requests_total") == 7
    assert total(samples, "surgebench:replicas", state="failed") == 1
    assert total(samples, "surgebench:faults_active", kind="kill", engine=str(killed)) == 1
    assert total(samples, "surgebench:faults_active", kind="slow", engine=str(1 - killed)) == 1
    assert total(samples, "surgebench:faults_applied_total", kind="kill") == 1
    buckets = [
        dict(lab)["le"]
        for (n, lab), _ in samples.items()
        if n == "vllm:time_to_first_token_seconds_bucket" and ("engine", "0") in lab
    ]
    assert buckets[:3] == ["0.001", "0.005", "0.01"] and buckets[-1] == "+Inf"
    assert len(buckets) == 23


def test_a_client_abort_counts_as_abort() -> None:
    loop, fleet = sim_fleet(replicas=1)
    metrics = FleetMetrics(fleet)
    _, seq, _ = request(fleet, loop, output_tokens=100)
    loop.run_for(0.1)
    fleet.replicas[0].abort(seq)
    _, samples = parse(metrics.render())
    assert total(samples, "vllm:request_success_total", finished_reason="abort") == 1
    assert total(samples, "vllm:num_requests_running") == 0


def test_aborting_a_finished_request_is_not_counted() -> None:
    loop, fleet = sim_fleet(replicas=1)
    metrics = FleetMetrics(fleet)
    sink, seq, _ = request(fleet, loop, output_tokens=3)
    loop.run_for(1.0)
    assert sink.reason == "length"
    fleet.replicas[0].abort(seq)
    _, samples = parse(metrics.render())
    assert total(samples, "vllm:request_success_total", finished_reason="abort") == 0
    assert total(samples, "vllm:request_success_total", finished_reason="length") == 1
