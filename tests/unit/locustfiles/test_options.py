"""Options parse into frozen settings; bad values are named; the key comes from the env."""

from __future__ import annotations

import argparse

import pytest

from locustfiles.options import LoadOptions, add_arguments, parse_headers, read_api_key


def _parse(*argv: str) -> LoadOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return LoadOptions.from_namespace(parser.parse_args(list(argv)))


def test_defaults() -> None:
    options = _parse()
    assert options.stream and not options.open_loop
    assert options.slo_ms == {}
    assert options.retry.mode == "none"
    assert options.abandon.abandon_after_s is None
    assert str(options.workload.prompt_tokens) == "lognormal:512,0.5"


def test_everything_set() -> None:
    options = _parse(
        "--model",
        "m",
        "--api-prefix",
        "/openai/v1/",
        "--extra-headers",
        "X-A: 1; X-B: two",
        "--no-stream",
        "--slo-ttft-p95-ms",
        "500",
        "--retry",
        "backoff",
        "--max-retries",
        "4",
        "--abandon-after-s",
        "30",
        "--arrival",
        "gamma",
        "--rate",
        "12.5",
        "--arrival-cv",
        "2",
        "--tiers",
        "free:1:64",
        "--turns",
        "uniform:1,4",
        "--seed",
        "9",
    )
    assert options.model == "m"
    assert options.api_prefix == "/openai/v1"
    assert options.extra_headers == (("X-A", "1"), ("X-B", "two"))
    assert not options.stream
    assert options.slo_ms == {"ttft_p95_ms": 500.0}
    assert (options.retry.mode, options.retry.max_retries) == ("backoff", 4)
    assert options.abandon.abandon_after_s == 30.0
    assert (options.arrival, options.rate_rps, options.arrival_cv) == ("gamma", 12.5, 2.0)
    assert options.open_loop
    assert options.workload.tiers[0].max_output_tokens == 64
    assert options.workload.seed == 9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "-1"], "--rate must be >= 0"),
        (["--max-in-flight", "0"], "--max-in-flight"),
        (["--api-prefix", "v1"], "must start with '/'"),
        (["--prompt-tokens", "zipf:2"], "Unknown distribution 'zipf'"),
        (["--extra-headers", "novalue"], "expected 'Name: value'"),
    ],
)
def test_bad_values_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parse(*argv)


def test_headers_and_api_key() -> None:
    assert parse_headers("") == ()
    assert read_api_key("", {}) is None
    assert read_api_key("MY_KEY", {"MY_KEY": "sk-1"}) == "sk-1"
    with pytest.raises(ValueError, match=r"'MY_KEY'.*unset or empty"):
        read_api_key("MY_KEY", {})
