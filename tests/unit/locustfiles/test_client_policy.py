"""Retry, backoff with full jitter, retry-after hints, abandonment."""

from __future__ import annotations

import math
import random
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locustfiles.client_policy import AbandonPolicy, RetryPolicy, retry_after_s

_NOW = 1_800_000_000.0


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "3"}, now_epoch_s=_NOW) == 0.25


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_s({"retry-after": "2"}, now_epoch_s=_NOW) == 2.0
    date = formatdate(_NOW + 4, usegmt=True)
    assert retry_after_s({"retry-after": date}, now_epoch_s=_NOW) == pytest.approx(4.0)


@pytest.mark.parametrize("headers", [{}, {"retry-after": "soon"}, {"retry-after-ms": "nan"}])
def test_missing_or_garbage_hints_are_absent(headers: dict[str, str]) -> None:
    assert retry_after_s(headers, now_epoch_s=_NOW) is None


def test_backoff_honours_a_hint_within_sixty_seconds() -> None:
    policy = RetryPolicy(mode="backoff")
    rng = random.Random(0)
    assert policy.delay_s(
        retries_done=0, headers={"retry-after-ms": "700"}, rng=rng, now_epoch_s=_NOW
    ) == pytest.approx(0.7)
    # A hint beyond 60 s (or <= 0) is ignored, as the OpenAI SDK does: jittered backoff instead.
    delay = policy.delay_s(
        retries_done=0, headers={"retry-after": "120"}, rng=rng, now_epoch_s=_NOW
    )
    assert 0.0 <= delay <= 0.5


@given(st.integers(0, 10), st.integers(0, 2**32))
def test_full_jitter_stays_within_the_capped_exponential(retries: int, seed: int) -> None:
    policy = RetryPolicy(mode="backoff", base_s=0.5, cap_s=8.0)
    delay = policy.delay_s(
        retries_done=retries, headers={}, rng=random.Random(seed), now_epoch_s=_NOW
    )
    assert 0.0 <= delay <= min(8.0, 0.5 * 2**retries)


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    policy = RetryPolicy(mode="backoff", base_s=0.5, cap_s=8.0)
    rng = random.Random(1)
    delays = [
        policy.delay_s(retries_done=3, headers={}, rng=rng, now_epoch_s=_NOW) for _ in range(2000)
    ]
    assert min(delays) < 0.2 and max(delays) > 3.8
    assert sum(delays) / len(delays) == pytest.approx(2.0, rel=0.1)


def test_naive_retries_at_once_and_ignores_hints() -> None:
    policy = RetryPolicy(mode="naive", max_retries=5)
    assert (
        policy.delay_s(
            retries_done=0, headers={"retry-after": "5"}, rng=random.Random(0), now_epoch_s=_NOW
        )
        == 0.0
    )
    assert policy.should_retry(retries_done=4, status=429)
    assert not policy.should_retry(retries_done=5, status=429)


def test_which_failures_are_retried() -> None:
    policy = RetryPolicy(mode="backoff", max_retries=2)
    assert policy.should_retry(retries_done=0, status=None)  # no response: connect, timeout
    assert policy.should_retry(retries_done=1, status=503)
    assert not policy.should_retry(retries_done=0, status=400)
    assert not policy.should_retry(retries_done=2, status=429)
    assert not RetryPolicy(mode="none").should_retry(retries_done=0, status=429)


def test_invalid_policies_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="Unknown retry mode 'sometimes'; known: none, backoff"):
        RetryPolicy(mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="abandon_after_s"):
        AbandonPolicy(0.0)


def test_abandon_deadline() -> None:
    assert AbandonPolicy(2.5).deadline_s(10.0) == 12.5
    assert AbandonPolicy().deadline_s(10.0) == math.inf
