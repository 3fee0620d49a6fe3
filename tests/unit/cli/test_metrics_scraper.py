from __future__ import annotations

from surgebench.metrics_scraper import parse_samples

_TEXT = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="tiny-llm",engine="0"} 12.0
vllm:num_requests_running{model_name="tiny-llm",engine="1"} 3
surgebench:replicas{model_name="a b",state="ready"} 2.0 1700000000000
vllm:e2e_request_latency_seconds_bucket{le="0.3",model_name="tiny-llm"} 4.0
vllm:e2e_request_latency_seconds_sum{model_name="tiny-llm"} 9.5
vllm:e2e_request_latency_seconds_created{model_name="tiny-llm"} 1.7e9
process_start_time_seconds 1.7e9
broken_line{a="b"}
"""


def test_parse_keeps_gauges_counters_and_sums_with_labels() -> None:
    samples = parse_samples(_TEXT)
    assert samples['vllm:num_requests_running{model_name="tiny-llm",engine="0"}'] == 12.0
    assert samples['vllm:num_requests_running{model_name="tiny-llm",engine="1"}'] == 3.0
    # A label value with a space, and a trailing timestamp, are read correctly.
    assert samples['surgebench:replicas{model_name="a b",state="ready"}'] == 2.0
    assert samples['vllm:e2e_request_latency_seconds_sum{model_name="tiny-llm"}'] == 9.5
    assert samples["process_start_time_seconds"] == 1.7e9


def test_parse_drops_buckets_created_and_broken_lines() -> None:
    keys = parse_samples(_TEXT)
    assert not [k for k in keys if "_bucket" in k or "_created" in k or k.startswith("broken")]
