from __future__ import annotations

import re

import pytest

from analysis.slo import SLO_METRICS as ANALYSIS_SLO_METRICS
from analysis.slo import parse_slo as analysis_parse_slo
from surgebench.exit_code import UsageError
from surgebench.options import (
    SLO_METRICS,
    check_choice,
    check_env_name,
    check_loopback,
    format_slo,
    parse_multiplier,
    parse_slo,
    parse_target,
)


def test_slo_metrics_match_analysis() -> None:
    assert SLO_METRICS == ANALYSIS_SLO_METRICS


def test_parse_slo_reads_targets_and_error_budget() -> None:
    slo = parse_slo("ttft_p95_ms=500, tpot_p99.9_ms=50,error_max_frac=0.02")
    assert slo == {"ttft_p95_ms": 500.0, "tpot_p99.9_ms": 50.0, "error_max_frac": 0.02}


def test_formatted_slo_is_accepted_by_analysis() -> None:
    text = format_slo(parse_slo("ttft_p95_ms=500,e2e_intended_p99_ms=9000,error_max_frac=0.01"))
    assert analysis_parse_slo(text).to_dict()["e2e_intended_p99_ms"] == 9000.0


def test_empty_slo_means_none_given() -> None:
    assert parse_slo(None) == {} and parse_slo(" ") == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ttft=500", "'ttft=500'"),
        ("ttft_p95_ms", "'ttft_p95_ms'"),
        ("latency_p95_ms=3", "tpot_p<q>_ms"),
        ("ttft_p95_ms=-1", "'-1'"),
        ("ttft_p95_ms=abc", "'abc'"),
        ("ttft_p0_ms=5", "0 < q < 100"),
        ("error_max_frac=2", "[0, 1]"),
        ("ttft_p95_ms=1,ttft_p95_ms=2", "twice"),
    ],
)
def test_bad_slo_names_the_value_and_the_allowed_ones(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_slo(text)
    assert fragment in str(err.value)


def test_parse_target() -> None:
    assert parse_target("stub").kind == "stub"
    target = parse_target("https://staging.example.com/v1/")
    assert (target.kind, target.url) == ("external", "https://staging.example.com/v1")
    with pytest.raises(UsageError, match="'ftp://x'"):
        parse_target("ftp://x")


def test_target_with_credentials_never_echoes_them() -> None:
    with pytest.raises(UsageError) as err:
        parse_target("https://user:sk-secret@api.example.com")
    assert "sk-secret" not in str(err.value)
    assert "--api-key-env" in str(err.value)


def test_parse_multiplier() -> None:
    assert parse_multiplier("10x") == 10.0 and parse_multiplier("2.5") == 2.5
    with pytest.raises(UsageError, match=re.escape("'0.5x'")):
        parse_multiplier("0.5x")
    with pytest.raises(UsageError, match="'ten'"):
        parse_multiplier("ten")


def test_check_choice_lists_known_values() -> None:
    with pytest.raises(UsageError, match="Unknown profile 'viarl'; known: steady, viral"):
        check_choice("profile", "viarl", ["viral", "steady"])


def test_loopback_only() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        assert check_loopback("--host", host) == host
    with pytest.raises(UsageError, match=re.escape("'0.0.0.0'")):
        check_loopback("--host", "0.0.0.0")


def test_env_name_error_never_echoes_a_pasted_key() -> None:
    assert check_env_name("--api-key-env", "OPENAI_API_KEY") == "OPENAI_API_KEY"
    with pytest.raises(UsageError) as err:
        check_env_name("--api-key-env", "sk-abc123-secret")
    assert "sk-abc123" not in str(err.value)
