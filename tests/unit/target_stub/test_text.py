"""Token approximation, synthetic text and output-length draws."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_stub.engine_config import engine_preset
from target_stub.text import (
    VOCABULARY,
    TextSource,
    chat_prompt_tokens,
    draw_output_tokens,
    text_tokens,
)


def test_text_tokens_is_ceil_of_chars_over_four() -> None:
    assert [text_tokens(s) for s in ("", "a", "abcd", "abcde", "x" * 400)] == [0, 1, 1, 2, 100]


def test_chat_prompt_adds_three_per_message_and_three_for_priming() -> None:
    assert chat_prompt_tokens(["abcd", "abcdefgh"]) == 3 + (3 + 1) + (3 + 2)


def test_every_vocabulary_word_is_one_json_safe_ascii_token() -> None:
    for word in VOCABULARY:
        assert word.startswith(b" ") and word.isascii()
        assert json.dumps(word.decode())[1:-1] == word.decode()


def test_text_source_is_reproducible_from_its_seed_and_wraps() -> None:
    a, b = TextSource(random.Random(7)), TextSource(random.Random(7))
    assert a.tokens == b.tokens and a.start_offset() == b.start_offset()
    long = a.text(4000, 10_000)
    assert long.count(b" ") == 10_000
    assert a.text(0, 3) == b"".join(a.tokens[:3])


@given(st.integers(1, 10_000), st.integers(0, 2**32))
def test_draws_stay_within_one_and_the_cap(cap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for dist in ("fixed", "normal", "lognormal", "exponential"):
        cfg = engine_preset("tiny").model_copy(update={"output_len_dist": dist})
        assert 1 <= draw_output_tokens(cfg, rng, cap) <= cap


@pytest.mark.parametrize("dist", ["normal", "lognormal", "exponential", "fixed"])
def test_draws_have_the_configured_mean(dist: str) -> None:
    cfg = engine_preset("tiny").model_copy(
        update={"output_len_dist": dist, "output_len_mean_tokens": 200.0, "output_len_sigma": 0.3}
    )
    rng = np.random.default_rng(1)
    draws = [draw_output_tokens(cfg, rng, 100_000) for _ in range(20_000)]
    assert np.mean(draws) == pytest.approx(200.0, rel=0.03)
