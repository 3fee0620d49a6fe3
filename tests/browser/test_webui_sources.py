"""The live view's inputs besides the users' events: the target's /metrics and offered.csv.

Pure parts in-process; ``scrape`` reads the real stub's /metrics (a subprocess on
loopback) and a closed loopback port.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from locustfiles.webui.rundir import read_offered_tail
from locustfiles.webui.scrape import metrics_url, parse_samples, reduce_gauges, scrape
from tests.browser.locust_ui import free_port
from tests.stub_process import running_stub

# The stub's exposition (vLLM names per engine, fleet series with the surgebench: prefix).
EXPOSITION = """\
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="tiny-llm"} 3.0
vllm:num_requests_waiting{engine="1",model_name="tiny-llm"} 5.0
vllm:num_requests_running{engine="0",model_name="tiny-llm"} 8
vllm:num_requests_running{engine="1",model_name="tiny-llm"} 7
vllm:kv_cache_usage_perc{engine="0",model_name="tiny-llm"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="tiny-llm"} 0.75
vllm:gpu_cache_usage_perc{engine="0",model_name="tiny-llm"} 0.25
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001"} 0 1700000000
surgebench:replicas{model_name="tiny-llm",state="ready"} 2
surgebench:replicas{model_name="tiny-llm",state="starting"} 1
surgebench:router_requests_total{engine="0",router="round_robin"} 10
not a sample line
"""


def test_gauges_are_summed_or_averaged_over_replicas() -> None:
    gauges = reduce_gauges(parse_samples(EXPOSITION))
    assert gauges.waiting == 8.0
    assert gauges.running == 15.0
    assert gauges.kv_usage_frac_mean == pytest.approx(0.5)
    assert gauges.kv_usage_frac_max == 0.75
    assert gauges.replicas == {"replicas ready": 2.0, "replicas starting": 1.0}


def test_older_vllm_kv_name_is_used_when_the_new_one_is_absent() -> None:
    text = 'vllm:gpu_cache_usage_perc{engine="0"} 0.4\n'
    gauges = reduce_gauges(parse_samples(text))
    assert gauges.kv_usage_frac_mean == 0.4
    assert gauges.waiting is None


def test_metrics_url_is_the_origin_root_and_rejects_non_http_hosts() -> None:
    assert metrics_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/metrics"
    with pytest.raises(ValueError, match="not an http"):
        metrics_url("127.0.0.1:8000")


def test_the_real_stubs_metrics_give_queue_kv_and_replicas() -> None:
    with running_stub(("--preset", "tiny", "--replicas", "2")) as stub:
        gauges = scrape(metrics_url(stub.url + "/v1"), timeout_s=5.0)
    assert gauges is not None
    assert (gauges.waiting, gauges.running) == (0.0, 0.0)
    assert gauges.kv_usage_frac_mean == 0.0
    assert gauges.replicas["replicas ready"] == 2.0


def test_a_target_without_metrics_gives_none() -> None:
    assert scrape(f"http://127.0.0.1:{free_port()}/metrics", timeout_s=1.0) is None


def test_offered_tail_reads_the_last_complete_row(tmp_path: Path) -> None:
    path = tmp_path / "offered.csv"
    assert read_offered_tail(tmp_path) == {}
    path.write_text("t_s,stage,target_users,target_rps,actual_users\n", encoding="utf-8")
    assert read_offered_tail(tmp_path) == {}
    with path.open("a", encoding="utf-8") as handle:
        handle.write("1.000,warm-up,5,,4\n2.000,surge,12,,9\n3.0")  # last row still being written
    assert read_offered_tail(tmp_path) == {"stage": "surge", "target_users": 12.0}
    with path.open("a", encoding="utf-8") as handle:
        handle.write('00,"peak, hold",,40.5,3\n')
    assert read_offered_tail(tmp_path) == {"stage": "peak, hold", "target_rps": 40.5}
