"""Step time of one continuous-batching engine iteration on an emulated GPU (pure).

The model (REFERENCE.md section 1, "A step-time model ..."; calibrated in docs/CALIBRATION.md)::

    step_ms = t_ovh + sqrt(t_w^2 + (c_tok * N)^2) + comm_tp(N) + kv_ns * K + attn + c_seq * B

- ``N``: tokens computed in the step (one per decoding sequence plus prefill chunk tokens).
  The ``sqrt`` blends the memory-bound regime (reading the weights once per step, ``t_w``)
  into the compute-bound regime (``c_tok`` per token) without a kink.
- ``K``: context tokens whose KV cache the decoding sequences read (memory bandwidth).
- ``attn``: causal attention of prefill chunks, quadratic in the chunk: a chunk of ``c``
  tokens starting at offset ``o`` costs ``attn_coef * (2*c*o + c^2)`` so that an unchunked
  prefill of ``n`` tokens costs ``attn_coef * n^2`` (the reference's ``5.3e-7 ms * n^2``).
- ``B``: sequences in the step (sampling, scheduling and detokenisation overhead per sequence).
- ``comm_tp``: tensor-parallel all-reduce, a fixed latency plus a per-token part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PerfParams:
    """Coefficients of the step-time model, in milliseconds (``kv_ns`` in nanoseconds)."""

    t_ovh_ms: float
    t_w_ms: float
    c_tok_ms: float
    kv_ns: float
    c_seq_ms: float
    attn_coef_ms: float
    comm_base_ms: float = 0.0
    comm_per_tok_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class StepLoad:
    """What one engine step computes."""

    tokens: int
    """``N``: tokens computed in the step."""
    context_tokens: int
    """``K``: context tokens read by the decoding sequences."""
    sequences: int
    """``B``: sequences in the step."""
    attn_pairs: float
    """Sum over prefill chunks of ``2*c*o + c^2`` (see the module docstring)."""


def step_time_ms(params: PerfParams, load: StepLoad) -> float:
    """Duration of one step in milliseconds; 0 for an empty step."""
    if load.sequences == 0 or load.tokens == 0:
        return 0.0
    compute = math.hypot(params.t_w_ms, params.c_tok_ms * load.tokens)
    comm = 0.0
    if params.comm_base_ms or params.comm_per_tok_ms:
        comm = params.comm_base_ms + params.comm_per_tok_ms * load.tokens
    return (
        params.t_ovh_ms
        + compute
        + comm
        + params.kv_ns * 1e-6 * load.context_tokens
        + params.attn_coef_ms * load.attn_pairs
        + params.c_seq_ms * load.sequences
    )


def prefill_attn_pairs(chunk_tokens: int, offset_tokens: int) -> float:
    """Attention work of a prefill chunk of ``chunk_tokens`` starting at ``offset_tokens``."""
    return float(2 * chunk_tokens * offset_tokens + chunk_tokens * chunk_tokens)


def image_step_time_ms(step_ms: float, batch: int, batch_efficiency_frac: float) -> float:
    """One denoising step for ``batch`` images.

    A diffusion UNet/DiT step is compute-bound: batching amortises only part of it. With
    ``batch_efficiency_frac`` = 0.8, each extra image adds 20% of a single image's step.
    """
    if batch <= 0:
        return 0.0
    return step_ms * (1.0 + (batch - 1) * (1.0 - batch_efficiency_frac))
