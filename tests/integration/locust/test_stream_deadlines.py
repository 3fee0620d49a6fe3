"""Under Locust (the event-loop reader), abandonment cuts a stream on time and frees the
server's slot: the user's deadline interrupts the wait, the reads stop, the socket closes."""

from __future__ import annotations

import statistics
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.locust.locust_run import CHAT, read_records, run_locust, stub

ABANDON_S = 0.5
TTFT_MS = 20.0
ITL_MS = 50.0


def _running(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "vllm:num_requests_running"
    )


def test_abandoned_streams_stop_on_time_and_free_the_server(tmp_path: Path) -> None:
    timing = ["--fixed-ttft-ms", str(TTFT_MS), "--fixed-itl-ms", str(ITL_MS)]
    with stub(["--preset", "tiny", *timing]) as server:
        result = run_locust(
            CHAT,
            server.url,
            tmp_path / "run",
            [
                "-u", "4", "-r", "4", "-t", "3s",
                "--prompt-tokens", "fixed:16",
                # 200 tokens of 50 ms: a 10 s stream, cut at 0.5 s
                "--output-tokens", "fixed:200", "--ignore-eos",
                "--abandon-after-s", str(ABANDON_S),
            ],
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while _running(server.url) > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        still_running = _running(server.url)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    records = read_records(tmp_path / "run")
    abandoned = [r for r in records if r["error_kind"] == "abandoned"]
    # 4 users, one 0.5 s stream after another for about 3 s: about 20 abandoned requests.
    assert len(abandoned) >= 12, [r["error_kind"] for r in records]
    assert {r["error_kind"] for r in records} <= {"abandoned", "aborted"}
    for r in abandoned:
        e2e_s = r["t_done_s"] - r["t_sent_s"]
        assert ABANDON_S - 0.01 <= e2e_s <= ABANDON_S + 0.5, r
        # tokens that arrived before the cut were measured: (0.5 - 0.02) / 0.05 ~ 9-10
        assert 6 <= r["n_chunks"] <= 11, r
        assert r["t_first_token_s"] - r["t_sent_s"] < 0.1, r
        # ITL accuracy is not the point here: a loaded CI box may delay the stub now and then
        assert 0.04 <= statistics.median(r["itl_s"]) <= 0.07, r
        assert all(0.01 <= gap <= 0.25 for gap in r["itl_s"]), r
    # The client closed each cut stream: the stub notices and frees the slots.
    assert still_running == 0
