"""Against the real stub: API keys (never written), retry with backoff honouring
retry-after on 429, and all three services of mixed.py (text stub + image stub)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.integration.locust.locust_run import (
    CHAT,
    MIXED,
    read_manifest,
    read_records,
    run_locust,
    stub,
)

_KEY = "sk-surgebench-test-4f9a1c"
_FAST = ["--fixed-ttft-ms", "20", "--fixed-itl-ms", "5"]
_SHORT = ["--prompt-tokens", "fixed:16", "--output-tokens", "fixed:4", "--ignore-eos"]


def test_api_key_from_the_named_variable_and_never_written(tmp_path: Path) -> None:
    env = {"STUB_KEYS": _KEY, "CLIENT_KEY": _KEY}
    with stub(["--preset", "tiny", *_FAST, "--api-key-env", "STUB_KEYS"], env=env) as server:
        with_key = run_locust(
            CHAT,
            server.url,
            tmp_path / "with",
            ["-u", "2", "-t", "3s", "--api-key-env", "CLIENT_KEY", "--model", "tiny-llm", *_SHORT],
            env=env,
        )
        without = run_locust(
            CHAT,
            server.url,
            tmp_path / "without",
            ["-u", "2", "-t", "3s", "--model", "tiny-llm", *_SHORT],
        )
    ok = read_records(tmp_path / "with")
    assert ok and all(r["status"] == 200 for r in ok if r["error_kind"] != "aborted")
    refused = [r for r in read_records(tmp_path / "without") if r["error_kind"] != "aborted"]
    assert refused and {(r["status"], r["error_kind"]) for r in refused} == {(401, "status")}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert _KEY not in path.read_text(errors="replace"), path
    assert _KEY not in with_key.stdout + with_key.stderr + without.stdout + without.stderr
    assert read_manifest(tmp_path / "with")["target"]["api_key_env"] == "CLIENT_KEY"


def test_backoff_waits_the_retry_after_of_each_429(tmp_path: Path) -> None:
    retry_after_s = 0.4
    overload = [
        "--max-num-seqs",
        "1",
        "--max-waiting-requests",
        "1",
        "--overload-status",
        "429",
        "--retry-after-s",
        str(retry_after_s),
    ]
    with stub(["--preset", "tiny", *overload]) as server:
        run_locust(
            CHAT,
            server.url,
            tmp_path / "run",
            [
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "6s",
                "--retry",
                "backoff",
                "--max-retries",
                "8",
                "--think-time-s",
                "uniform:0,0.2",
                *_SHORT,
            ],
        )
    records = [r for r in read_records(tmp_path / "run") if r["error_kind"] != "aborted"]
    retried = [r for r in records if r["retries"] > 0]
    assert retried, Counter((r["status"], r["retries"]) for r in records)
    for r in retried:
        # Each retry waited the server's retry-after-ms before going again.
        assert r["t_done_s"] - r["t_sent_s"] >= r["retries"] * retry_after_s - 0.01, r
    assert {r["status"] for r in records} <= {200, 429}
    # Backing off lets requests through that the overloaded stub refused at first.
    assert any(r["status"] == 200 for r in retried), Counter(
        (r["status"], r["retries"]) for r in records
    )


def test_mixed_users_reach_all_three_services(tmp_path: Path) -> None:
    with (
        stub(["--preset", "tiny", *_FAST]) as text,
        stub(["--preset", "h100-sdxl"]) as images,
    ):
        result = run_locust(
            MIXED,
            text.url,
            tmp_path / "run",
            ["-u", "11", "-r", "11", "-t", "6s", "--image-host", images.url, *_SHORT],
        )
    records = [r for r in read_records(tmp_path / "run") if r["error_kind"] != "aborted"]
    by_endpoint = Counter((r["endpoint"], r["status"]) for r in records)
    assert {e for e, _ in by_endpoint} == {"chat", "completions", "embeddings", "images"}, (
        by_endpoint,
        result.stderr[-2000:],
    )
    assert {s for _, s in by_endpoint} == {200}, by_endpoint
    users = {r["user_class"] for r in records}
    assert users == {"MixedChatUser", "MixedImageUser", "MixedApiUser"}
    embeddings = [r for r in records if r["endpoint"] == "embeddings"]
    assert all(r["output_tokens"] == 0 and r["t_first_token_s"] is not None for r in embeddings)
