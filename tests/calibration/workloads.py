"""Request streams that match the sources of the published rows (REFERENCE.md section 1).

ShareGPT (LambdaLabs and SGLang rows): both benchmarks sample ShareGPT_V3_unfiltered_cleaned_split
(first human turn = prompt, first reply = reference output length) and drop pairs with a prompt
or output under 4 tokens, a prompt over 1,024 tokens or prompt + output over 2,048 tokens
(vLLM benchmarks/benchmark_serving.py ``sample_sharegpt_requests``; sglang ``bench_serving``
does the same). We have no copy of the dataset here, so the lengths are drawn from truncated
lognormals whose *means* match published totals for Llama-3 tokenisation -- mean prompt 230
tokens (``vllm bench serve`` on ShareGPT, 1,000 prompts: 229,711 input tokens, vllm-project/vllm
PR #18566) and mean output 195 tokens (sglang benchmark_vllm_060: 3,700.64 output tok/s at
19.04 req/s = 194 tokens per request) -- and whose spreads (sigma 1.2 for prompts, 1.0 for
outputs, medians about 153 and 123 tokens) are an estimate of ShareGPT's long tail. The means
are sources; the shapes are estimates (docs/CALIBRATION.md).
"""

from __future__ import annotations

import numpy as np

from target_stub.simulate import SimRequest

# Lognormal parameters (natural log of tokens), solved so that the *truncated* means are
# 230 (prompt) and 195 (output); tests/calibration/test_workloads.py checks the means.
_PROMPT_MU, _PROMPT_SIGMA = 5.1295, 1.2
_OUTPUT_MU, _OUTPUT_SIGMA = 4.816, 1.0
_MIN_TOKENS = 4
_MAX_PROMPT_TOKENS = 1024
_MAX_TOTAL_TOKENS = 2048


def sharegpt_lengths(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n`` (prompt_tokens, output_tokens) pairs with ShareGPT-like lengths (see module doc)."""
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        batch = 2 * (n - len(pairs)) + 16
        prompts = np.rint(np.exp(rng.normal(_PROMPT_MU, _PROMPT_SIGMA, batch))).astype(int)
        outputs = np.rint(np.exp(rng.normal(_OUTPUT_MU, _OUTPUT_SIGMA, batch))).astype(int)
        keep = (
            (prompts >= _MIN_TOKENS)
            & (outputs >= _MIN_TOKENS)
            & (prompts <= _MAX_PROMPT_TOKENS)
            & (prompts + outputs <= _MAX_TOTAL_TOKENS)
        )
        pairs.extend(zip(prompts[keep].tolist(), outputs[keep].tolist(), strict=True))
    return pairs[:n]


def lognormal_lengths(
    n: int, rng: np.random.Generator, *, mean_tokens: float, sigma: float
) -> list[int]:
    """``n`` lengths from a lognormal with the given mean (not median), at least 1 token."""
    mu = np.log(mean_tokens) - sigma * sigma / 2.0
    lengths = np.maximum(1, np.rint(np.exp(rng.normal(mu, sigma, n)))).astype(int)
    return [int(x) for x in lengths]


def all_at_once(pairs: list[tuple[int, int]]) -> list[SimRequest]:
    """Every request at t = 0 (``--request-rate inf``)."""
    return [SimRequest(t_arrival_s=0.0, prompt_tokens=p, output_tokens=o) for p, o in pairs]


def poisson(
    pairs: list[tuple[int, int]], rate_rps: float, rng: np.random.Generator
) -> list[SimRequest]:
    """Poisson arrivals at ``rate_rps`` (exponential gaps, as both benchmark clients use)."""
    t_s = np.cumsum(rng.exponential(1.0 / rate_rps, len(pairs)))
    return [
        SimRequest(t_arrival_s=float(t), prompt_tokens=p, output_tokens=o)
        for t, (p, o) in zip(t_s, pairs, strict=True)
    ]


def fixed_lengths(n: int, prompt_tokens: int, output_tokens: int) -> list[SimRequest]:
    """``n`` identical requests; arrival times unused (closed-loop runs)."""
    return [
        SimRequest(t_arrival_s=0.0, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
        for _ in range(n)
    ]
