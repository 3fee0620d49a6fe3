"""The published measurements of REFERENCE.md section 1, as runnable simulated-time cases.

Each :class:`Case` names its source, the preset, the per-row knobs (and why), the workload
and the published values; :func:`run_case` simulates it and returns our values. The tests
(tests/calibration/test_published_rows.py) and the table in docs/CALIBRATION.md
(benchmarks/calibration_table.py) both use this module, so the table is what the tests check.

Metric names (all from what a client measures, :class:`~target_stub.simulate.SimResult`):

- ``output_tps``: output tokens / benchmark duration (last completion; all sent at t = 0).
- ``tpot_p50_ms``: median over requests of (last token - first token) / (tokens - 1).
- ``ttft_p50_ms`` / ``ttft_mean_ms``: time to first token from the request's send time.
- ``itl_mean_ms``: mean inter-token latency, pooled over all gaps of all requests (equal to
  the mean per-request TPOT when every request has the same output length).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from target_stub.engine import SchedulerPolicy
from target_stub.engine_config import EngineConfig, engine_preset
from target_stub.simulate import SimRequest, SimResult, simulate
from tests.calibration import workloads

Metrics = dict[str, float]

# vLLM 0.6.0 as both 0.6 sources ran it: no chunked prefill (V0's default policy), and
# --num-scheduler-steps 10 (LambdaLabs' table rows; sglang benchmark_vllm_060 commands).
VLLM_060 = SchedulerPolicy(chunked_prefill=False, scheduler_steps=10)

# Software-generation knobs (docs/CALIBRATION.md, "Knobs"). The presets are today's vLLM.
# vLLM 0.6: the per-sequence CPU cost c_seq as the REFERENCE table note gives it (0.02 ms
# for 8B, 0.08 ms for 70B TP4); for 70B TP4 also that generation's per-step fixed cost
# (t_ovh) and first-token overhead (frontend_ms), both fitted to the vLLM 0.6 rows.
VLLM_060_8B: Mapping[str, float] = {"c_seq_ms": 0.02}
VLLM_060_70B: Mapping[str, float] = {"c_seq_ms": 0.08, "t_ovh_ms": 5.9, "frontend_ms": 45.0}

# LambdaLabs: --max-num-seqs 256 --max-model-len 2048; without chunked prefill vLLM 0.6 sets
# max_num_batched_tokens = max(max_model_len, 2048).
_LAMBDA_ENGINE: Mapping[str, float] = {
    "max_num_seqs": 256,
    "max_model_len_tokens": 2048,
    "max_num_batched_tokens": 2048,
}
# sglang benchmark_vllm_060: vLLM 0.6.0 --max_model_len 4096, other settings default.
_SGLANG_ENGINE: Mapping[str, float] = {
    "max_num_seqs": 256,
    "max_model_len_tokens": 4096,
    "max_num_batched_tokens": 4096,
}
# inference-sim sim-to-real ground truth: vLLM 0.15.1 with max_num_batched_tokens 2048
# (the max_num_batched_tokens column of results/*/error_records.csv).
_ISIM_ENGINE: Mapping[str, float] = {"max_num_batched_tokens": 2048}

_LAMBDA = "LambdaLabsML/vllm-benchmark benchmark_v0.md (v0.6.0, scheduler steps 10)"
_SGLANG = "sgl-project/sglang benchmark/benchmark_vllm_060/README.md (vLLM rows)"
_ISIM = "inference-sim sim-to-real-accuracy-validation ground truth (REFERENCE.md summary)"
_NIM = "NVIDIA NIM 1.8 benchmarking docs (REFERENCE.md section 1)"


@dataclass(frozen=True, slots=True)
class Case:
    """One published row (or one concurrency of a published sweep)."""

    key: str
    label: str
    source: str
    preset: str
    engine: Mapping[str, float]
    """Engine settings the source used (max_num_seqs, ...) and the software knobs."""
    knobs: str
    """Which knob values the row uses, and why (for the table)."""
    workload: str
    published: Mapping[str, float]
    requests: Callable[[np.random.Generator], list[SimRequest]]
    policy: SchedulerPolicy | None = None
    concurrency: int | None = None
    seed: int = 0
    replications: int = 1
    """Independent runs (seeds ``seed``, ``seed + 1``, ...) whose metrics are averaged."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """Per-metric notes for the table (e.g. the published range behind a midpoint)."""


def case_config(case: Case, preset_overrides: Mapping[str, float] | None = None) -> EngineConfig:
    """The preset with the row's engine settings (and optional coefficient overrides)."""
    update: dict[str, float] = dict(case.engine)
    if preset_overrides:
        update = {**preset_overrides, **update}
    return EngineConfig.model_validate({**engine_preset(case.preset).model_dump(), **update})


def run_case(case: Case, preset_overrides: Mapping[str, float] | None = None) -> Metrics:
    """Simulate ``case`` and return our value of every published metric."""
    config = case_config(case, preset_overrides)
    runs = []
    for replication in range(case.replications):
        rng = np.random.default_rng(case.seed + replication)
        outcome = simulate(
            config, case.requests(rng), concurrency=case.concurrency, policy=case.policy
        )
        results = outcome.results
        if case.concurrency is not None:
            # Closed loop: drop the first wave (its start is staged) and the last one
            # (the concurrency drains as the request list runs out).
            results = results[case.concurrency : -case.concurrency]
        runs.append(_metrics(results, outcome.end_s))
    return {name: statistics.fmean(run[name] for run in runs) for name in runs[0]}


def residual_pct(ours: float, published: float) -> float:
    return 100.0 * (ours - published) / published


def _metrics(results: Sequence[SimResult], end_s: float) -> Metrics:
    done = [r for r in results if r.t_done_s is not None]
    ttft_ms = [1000.0 * r.ttft_s for r in done if r.ttft_s is not None]
    tpot_ms = [1000.0 * r.tpot_s for r in done if r.tpot_s is not None]
    gaps_s = sum(
        r.t_last_token_s - r.t_first_token_s
        for r in done
        if r.t_last_token_s is not None and r.t_first_token_s is not None
    )
    gaps = sum(max(0, r.output_tokens - 1) for r in done)
    return {
        "output_tps": sum(r.output_tokens for r in done) / end_s,
        "tpot_p50_ms": statistics.median(tpot_ms),
        "ttft_p50_ms": statistics.median(ttft_ms),
        "ttft_mean_ms": statistics.fmean(ttft_ms),
        "itl_mean_ms": 1000.0 * gaps_s / gaps,
    }


def _sharegpt_at_once(n: int) -> Callable[[np.random.Generator], list[SimRequest]]:
    return lambda rng: workloads.all_at_once(workloads.sharegpt_lengths(n, rng))


def _sharegpt_poisson(n: int, rate_rps: float) -> Callable[[np.random.Generator], list[SimRequest]]:
    return lambda rng: workloads.poisson(workloads.sharegpt_lengths(n, rng), rate_rps, rng)


def _moderate(n: int, rate_rps: float) -> Callable[[np.random.Generator], list[SimRequest]]:
    def make(rng: np.random.Generator) -> list[SimRequest]:
        prompts = workloads.lognormal_lengths(n, rng, mean_tokens=400.0, sigma=0.3)
        outputs = workloads.lognormal_lengths(n, rng, mean_tokens=250.0, sigma=0.5)
        return workloads.poisson(list(zip(prompts, outputs, strict=True)), rate_rps, rng)

    return make


def _isl_osl_closed(concurrency: int) -> Callable[[np.random.Generator], list[SimRequest]]:
    def make(rng: np.random.Generator) -> list[SimRequest]:
        # Ten waves (the first and last are not measured); the first wave's start is spread
        # over 25 s, about one request's lifetime at moderate concurrency.
        n = 10 * concurrency if concurrency > 1 else 12
        starts = rng.uniform(0.0, 25.0, n)
        return [
            SimRequest(t_arrival_s=float(t), prompt_tokens=5000, output_tokens=500) for t in starts
        ]

    return make


_V06_KNOBS_8B = "vLLM 0.6: c_seq 0.02 (REFERENCE note); no chunked prefill, 10 scheduler steps"
_V06_KNOBS_70B = (
    "vLLM 0.6: c_seq 0.08 (REFERENCE note), t_ovh 5.9 and frontend 45 ms (fitted); "
    "no chunked prefill, 10 scheduler steps"
)
_SHAREGPT_NOTE = "ShareGPT-like lengths (tests/calibration/workloads.py)"

_NIM_PUBLISHED: Mapping[int, tuple[float, float]] = {
    1: (407.0, 18.6),
    25: (689.0, 38.8),
    50: (835.0, 59.7),
    100: (7996.0, 92.9),
    250: (88605.0, 93.2),
}

CASES: tuple[Case, ...] = (
    Case(
        key="lambda-8b",
        label="8B TP1, vLLM 0.6, ShareGPT, all at once, 256 seqs",
        source=_LAMBDA,
        preset="h100-llama3-8b",
        engine={**_LAMBDA_ENGINE, **VLLM_060_8B},
        policy=VLLM_060,
        knobs=_V06_KNOBS_8B,
        workload=f"5,000 requests at t = 0 (--request-rate inf); {_SHAREGPT_NOTE}",
        published={"output_tps": 8088.35, "tpot_p50_ms": 25.57},
        requests=_sharegpt_at_once(5000),
        seed=1,
    ),
    Case(
        key="lambda-70b",
        label="70B TP4, vLLM 0.6, ShareGPT, all at once, 256 seqs",
        source=_LAMBDA,
        preset="h100-llama3-70b-tp4",
        engine={**_LAMBDA_ENGINE, **VLLM_060_70B},
        policy=VLLM_060,
        knobs=_V06_KNOBS_70B,
        workload=f"5,000 requests at t = 0 (--request-rate inf); {_SHAREGPT_NOTE}",
        published={"output_tps": 3542.88, "tpot_p50_ms": 61.10},
        requests=_sharegpt_at_once(5000),
        seed=1,
    ),
    Case(
        key="isim-8b",
        label="8B TP1, vLLM 0.15.1, moderate load, ~400-token prompts",
        source=_ISIM,
        preset="h100-llama3-8b",
        engine=_ISIM_ENGINE,
        knobs="modern (preset defaults)",
        workload="Poisson 8 req/s, 2,000 requests, prompts lognormal mean 400 (sigma 0.3), "
        "outputs lognormal mean 250 (sigma 0.5)",
        published={"ttft_mean_ms": 28.0, "itl_mean_ms": 8.9},
        notes={"ttft_mean_ms": "midpoint of 25-31", "itl_mean_ms": "midpoint of 7.8-10"},
        requests=_moderate(2000, 8.0),
        seed=3,
    ),
    Case(
        key="isim-70b",
        label="Llama-2-70B TP4, vLLM 0.15.1, moderate load",
        source=_ISIM,
        preset="h100-llama3-70b-tp4",
        engine=_ISIM_ENGINE,
        knobs="modern (preset defaults)",
        workload="Poisson 8 req/s, 2,000 requests, prompts lognormal mean 400 (sigma 0.3), "
        "outputs lognormal mean 250 (sigma 0.5)",
        published={"ttft_mean_ms": 53.5, "itl_mean_ms": 18.0},
        notes={"ttft_mean_ms": "midpoint of 51-56", "itl_mean_ms": "midpoint of 17-19"},
        requests=_moderate(2000, 8.0),
        seed=3,
    ),
    Case(
        key="sglang-70b-4rps",
        label="70B TP4, vLLM 0.6, ShareGPT, 4 req/s",
        source=_SGLANG,
        preset="h100-llama3-70b-tp4",
        engine={**_SGLANG_ENGINE, **VLLM_060_70B},
        policy=VLLM_060,
        knobs=_V06_KNOBS_70B,
        workload=f"Poisson 4 req/s, 1,200 requests; {_SHAREGPT_NOTE}",
        published={"ttft_p50_ms": 179.15, "tpot_p50_ms": 23.58},
        requests=_sharegpt_poisson(1200, 4.0),
        seed=2,
    ),
    Case(
        key="sglang-70b-8rps",
        label="70B TP4, vLLM 0.6, ShareGPT, 8 req/s",
        source=_SGLANG,
        preset="h100-llama3-70b-tp4",
        engine={**_SGLANG_ENGINE, **VLLM_060_70B},
        policy=VLLM_060,
        knobs=_V06_KNOBS_70B,
        workload=f"Poisson 8 req/s, 2,400 requests; {_SHAREGPT_NOTE}",
        published={"ttft_p50_ms": 207.12, "tpot_p50_ms": 29.15},
        requests=_sharegpt_poisson(2400, 8.0),
        seed=2,
    ),
    *(
        Case(
            key=f"nim-70b-fp8-tp2-c{c}",
            label=f"70B FP8 TP2, ISL 5000 / OSL 500, concurrency {c}",
            source=_NIM,
            preset="h100-llama3-70b-fp8-tp2",
            engine={},
            knobs="modern (preset defaults)",
            workload=f"closed loop at concurrency {c}, fixed 5,000-token prompts, 500 output "
            "tokens; first wave staggered over 25 s, 10 waves, first and last not measured"
            + ({25: ", mean of 32 staggered runs", 50: ", mean of 12 staggered runs"}.get(c, "")),
            published={"ttft_mean_ms": ttft_ms, "itl_mean_ms": itl_ms},
            requests=_isl_osl_closed(c),
            concurrency=c,
            seed=5,
            # Identical requests in a deterministic closed loop keep the phases they start
            # with; which prefills collide (and so TTFT) depends on the initial stagger:
            # one run's TTFT has a standard deviation of 20% (25 users) and 10% (50 users)
            # of the published value; averaging 32 and 12 runs brings it to about 3.5% and 3%.
            replications={25: 32, 50: 12}.get(c, 1),
        )
        for c, (ttft_ms, itl_ms) in _NIM_PUBLISHED.items()
    ),
)
