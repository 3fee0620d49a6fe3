"""Synthetic output text, the prompt-token approximation and output-length draws.

Prompt tokens are approximated, not tokenised: ``ceil(characters / 4)`` per text (OpenAI's
rule of thumb for English, about 4 characters per token), plus, for chat, 3 tokens per message
and 3 for the reply priming (the overhead in OpenAI's ``num_tokens_from_messages`` recipe).
Token-id prompts count one token per id. This costs O(number of texts), not O(characters
tokenised), which keeps the stub's front end cheap.

Output text is a seeded shuffle of a small ASCII vocabulary in which every word (with its
leading space) is exactly one output token. No word needs JSON escaping, so chunk bytes can be
spliced from pre-encoded pieces.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import numpy as np

from target_stub.engine_config import EngineConfig

CHARS_PER_TOKEN = 4
CHAT_TOKENS_PER_MESSAGE = 3
CHAT_REPLY_PRIMING_TOKENS = 3

_WORDS = (  # noqa: SIM905 - one string reads better than 120 list items
    "the of and to in is was for on that with as by at from it this be are an or which "
    "model token batch queue cache block step engine prefill decode latency stream "
    "request replica surge load traffic capacity server client window memory kernel "
    "tensor layer head context prompt output input value key signal curve peak valley "
    "rate limit budget fleet node shard route retry backoff spike wave calm steady rising "
    "falling quick slow bright quiet silver golden river mountain harbor meadow forest "
    "garden city bridge tower lantern compass anchor signal orbit planet comet meteor "
    "galaxy nebula ember frost storm"
).split()
VOCABULARY: tuple[bytes, ...] = tuple(f" {word}".encode() for word in dict.fromkeys(_WORDS))
"""Every entry is one output token: a space and an ASCII word (never needs JSON escaping)."""

_SEQUENCE_LEN = 4096


def text_tokens(text: str) -> int:
    """Approximate token count of one text: ``ceil(len(text) / 4)``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def chat_prompt_tokens(message_texts: Iterable[str]) -> int:
    """Prompt tokens of a chat: per-message text tokens plus the chat framing overhead."""
    total = CHAT_REPLY_PRIMING_TOKENS
    for text in message_texts:
        total += CHAT_TOKENS_PER_MESSAGE + text_tokens(text)
    return total


class TextSource:
    """A seeded token sequence that output streams read from at seeded offsets."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.tokens: tuple[bytes, ...] = tuple(rng.choice(VOCABULARY) for _ in range(_SEQUENCE_LEN))

    def start_offset(self) -> int:
        """Where the next stream starts reading (one seeded draw per request)."""
        return self._rng.randrange(_SEQUENCE_LEN)

    def text(self, offset: int, n_tokens: int) -> bytes:
        """The ``n_tokens`` tokens from ``offset`` on, as UTF-8 bytes (wrapping around)."""
        tokens = self.tokens
        start = offset % _SEQUENCE_LEN
        end = start + n_tokens
        if end <= _SEQUENCE_LEN:
            return b"".join(tokens[start:end])
        parts = [b"".join(tokens[start:])]
        remaining = end - _SEQUENCE_LEN
        while remaining > 0:
            take = min(remaining, _SEQUENCE_LEN)
            parts.append(b"".join(tokens[:take]))
            remaining -= take
        return b"".join(parts)


def draw_output_tokens(config: EngineConfig, rng: np.random.Generator, cap_tokens: int) -> int:
    """Output length when ``ignore_eos`` is off: a draw from the preset's distribution.

    ``output_len_mean_tokens`` is the arithmetic mean for every distribution; ``output_len_sigma``
    is the coefficient of variation (std / mean) for "normal" and the log-space sigma for
    "lognormal" (as documented on ``EngineConfig``); "fixed" and "exponential" ignore it.
    The draw is clipped to ``[1, cap_tokens]``.
    """
    mean = config.output_len_mean_tokens
    sigma = config.output_len_sigma
    dist = config.output_len_dist
    if dist == "fixed":
        value = mean
    elif dist == "normal":
        value = float(rng.normal(mean, sigma * mean))
    elif dist == "lognormal":
        value = float(rng.lognormal(math.log(mean) - sigma * sigma / 2.0, sigma))
    elif dist == "exponential":
        value = float(rng.exponential(mean))
    else:  # pragma: no cover - EngineConfig's Literal rules this out
        raise ValueError(
            f"Unknown output_len_dist {dist!r}; known: fixed, normal, lognormal, exponential"
        )
    return max(1, min(cap_tokens, round(value)))
