"""Measured TTFT and ITL equal the stub's fixed truth within max(1 ms, 2 %) at 100 streams."""

from __future__ import annotations

import statistics
from pathlib import Path

from tests.integration.locust.locust_run import (
    CHAT,
    completed,
    pin,
    read_records,
    run_locust,
    stub,
)

TTFT_MS = 200.0
ITL_MS = 20.0
WARMUP_S = 3.0  # connection set-up while 100 users spawn is not what is measured


def _tolerance_ms(truth_ms: float) -> float:
    return max(1.0, 0.02 * truth_ms)


def test_ttft_and_itl_match_the_truth_at_100_streams(tmp_path: Path) -> None:
    args = ["--preset", "tiny", "--fixed-ttft-ms", str(TTFT_MS), "--fixed-itl-ms", str(ITL_MS)]
    with stub(args) as server:
        # Stub and Locust on different cores, as in the benchmark: the truth is the stub's
        # timing, so the stub must not wait for Locust's core.
        pin(server.process.pid, 0)
        result = run_locust(
            CHAT,
            server.url,
            tmp_path / "run",
            # Think time desynchronises the users, as real ones are: 100 requests arriving in
            # the same millisecond would measure the stub's request parsing, not the client.
            [
                "-u",
                "100",
                "-r",
                "50",
                "-t",
                "12s",
                "--prompt-tokens",
                "fixed:64",
                "--output-tokens",
                "fixed:32",
                "--ignore-eos",
                "--think-time-s",
                "uniform:0,0.3",
            ],
            cpu=1,
        )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    records = completed(read_records(tmp_path / "run"), after_s=WARMUP_S)
    assert len(records) > 500, result.stderr[-3000:]
    ttft_ms = [(r["t_first_token_s"] - r["t_sent_s"]) * 1000 for r in records]
    itl_ms = [x * 1000 for r in records for x in r["itl_s"]]
    # Medians: on a shared CI box the OS now and then deschedules the stub or Locust for
    # 100+ ms, which moves every client's mean (a plain asyncio client's too) but not the
    # median. A buffering reader still fails: FastHttpUser's median TTFT is about +70 %.
    summary = (
        f"TTFT median {statistics.median(ttft_ms):.2f} mean {statistics.fmean(ttft_ms):.2f} ms; "
        f"ITL median {statistics.median(itl_ms):.3f} mean {statistics.fmean(itl_ms):.3f} ms"
    )
    assert abs(statistics.median(ttft_ms) - TTFT_MS) <= _tolerance_ms(TTFT_MS), summary
    assert abs(statistics.median(itl_ms) - ITL_MS) <= _tolerance_ms(ITL_MS), summary
    assert all(r["output_tokens"] == 32 and r["n_chunks"] == 32 for r in records)
