"""Engine configuration and the emulated-hardware presets.

Sources of the preset numbers (REFERENCE.md section 1): the step-time coefficients of the
calibrated model; KV capacity from vLLM startup logs (8B on one H100 at
gpu_memory_utilization 0.9: about 430k tokens; 70B TP4: about 470k, an estimate); vLLM's
defaults on H100 (max_num_seqs 1024, max_num_batched_tokens 8192, block 16 tokens).
docs/CALIBRATION.md tabulates how these reproduce the published measurements.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from target_stub.perf_model import PerfParams


class EngineConfig(BaseModel):
    """Everything one emulated replica needs; frozen and validated once at the edge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Served model name, as clients send it.")
    kind: Literal["text", "image"] = "text"
    gpus_per_replica: int = Field(1, ge=1)
    max_model_len_tokens: int = Field(8192, ge=16)
    max_num_seqs: int = Field(1024, ge=1)
    max_num_batched_tokens: int = Field(8192, ge=16)
    block_size_tokens: int = Field(16, ge=1)
    kv_capacity_tokens: int = Field(430_000, ge=16)
    output_len_dist: Literal["fixed", "normal", "lognormal", "exponential"] = "lognormal"
    output_len_mean_tokens: float = Field(200.0, gt=0)
    output_len_sigma: float = Field(0.8, ge=0, description="normal: std/mean; lognormal: sigma")
    fixed_ttft_ms: float | None = Field(None, ge=0)
    fixed_itl_ms: float | None = Field(None, gt=0)
    frontend_ms: float = Field(12.0, ge=0, description="API server + tokeniser, added to TTFT")
    # Step-time model (perf_model), milliseconds except kv_ns. Defaults: the calibrated
    # h100-llama3-8b values (docs/CALIBRATION.md).
    t_ovh_ms: float = Field(1.8, ge=0)
    t_w_ms: float = Field(5.6, ge=0)
    c_tok_ms: float = Field(0.0205, ge=0)
    kv_ns: float = Field(60.0, ge=0)
    c_seq_ms: float = Field(0.005, ge=0)
    attn_coef_ms: float = Field(5.3e-7, ge=0)
    comm_base_ms: float = Field(0.0, ge=0)
    comm_per_tok_ms: float = Field(0.0, ge=0)
    # Image presets: a job is image_steps denoising steps run in batches of image_max_batch.
    image_steps: int = Field(30, ge=1)
    image_step_ms: float = Field(45.0, gt=0)
    image_max_batch: int = Field(4, ge=1)
    image_batch_efficiency_frac: float = Field(0.8, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> EngineConfig:
        if (self.fixed_ttft_ms is None) != (self.fixed_itl_ms is None):
            raise ValueError("fixed_ttft_ms and fixed_itl_ms must be set together (or neither)")
        if self.kv_capacity_tokens < self.block_size_tokens:
            raise ValueError(
                f"kv_capacity_tokens={self.kv_capacity_tokens} is smaller than one block "
                f"(block_size_tokens={self.block_size_tokens})"
            )
        return self

    @property
    def perf(self) -> PerfParams:
        return PerfParams(
            t_ovh_ms=self.t_ovh_ms,
            t_w_ms=self.t_w_ms,
            c_tok_ms=self.c_tok_ms,
            kv_ns=self.kv_ns,
            c_seq_ms=self.c_seq_ms,
            attn_coef_ms=self.attn_coef_ms,
            comm_base_ms=self.comm_base_ms,
            comm_per_tok_ms=self.comm_per_tok_ms,
        )

    @property
    def kv_blocks(self) -> int:
        return self.kv_capacity_tokens // self.block_size_tokens

    @property
    def fixed_timing(self) -> bool:
        return self.fixed_ttft_ms is not None


ENGINE_PRESETS: dict[str, EngineConfig] = {
    # Fast tests: a small GPU that saturates at a few dozen concurrent streams.
    "tiny": EngineConfig(
        model="tiny-llm",
        max_model_len_tokens=4096,
        max_num_seqs=32,
        max_num_batched_tokens=2048,
        kv_capacity_tokens=32_768,
        output_len_mean_tokens=32.0,
        output_len_sigma=0.5,
        frontend_ms=1.0,
        t_ovh_ms=1.0,
        t_w_ms=4.0,
        c_tok_ms=0.02,
        kv_ns=60.0,
        c_seq_ms=0.05,
    ),
    # Step-time coefficients: docs/CALIBRATION.md derives each one (weights / HBM bandwidth,
    # FLOPs / peak, KV bytes / bandwidth) and fits them to the published rows it tabulates;
    # c_seq is today's vLLM (the vLLM 0.6 rows override it, tests/calibration/cases.py).
    "h100-llama3-8b": EngineConfig(
        model="meta-llama/Llama-3.1-8B-Instruct",
        max_model_len_tokens=131_072,
        kv_capacity_tokens=430_000,
        t_ovh_ms=1.8,
        t_w_ms=5.6,
        c_tok_ms=0.0205,
        kv_ns=60.0,
        c_seq_ms=0.005,
        attn_coef_ms=5.3e-7,
    ),
    "h100-llama3-70b-tp4": EngineConfig(
        model="meta-llama/Llama-3.1-70B-Instruct",
        gpus_per_replica=4,
        max_model_len_tokens=131_072,
        kv_capacity_tokens=470_000,
        t_ovh_ms=0.45,
        t_w_ms=11.5,
        c_tok_ms=0.0455,
        kv_ns=37.0,
        c_seq_ms=0.005,
        attn_coef_ms=6.6e-7,
        comm_base_ms=1.7,
        comm_per_tok_ms=0.0089,
    ),
    # FP8 weights and FP8 KV cache on two H100s (NVIDIA NIM 1.8's 70B FP8 TP2 profile).
    "h100-llama3-70b-fp8-tp2": EngineConfig(
        model="meta-llama/Llama-3.1-70B-Instruct-FP8",
        gpus_per_replica=2,
        max_model_len_tokens=131_072,
        kv_capacity_tokens=470_000,
        frontend_ms=25.0,
        t_ovh_ms=1.0,
        t_w_ms=14.4,
        c_tok_ms=0.062,
        kv_ns=27.0,
        c_seq_ms=0.005,
        attn_coef_ms=1.1e-6,
        comm_base_ms=2.3,
        comm_per_tok_ms=0.0039,
    ),
    # DALL-E-like image generation (SDXL-class, 1024x1024, 30 steps): about 1.4 s per image
    # alone on an H100 (estimate from public SDXL benchmarks), batches of up to 4.
    "h100-sdxl": EngineConfig(
        model="stabilityai/stable-diffusion-xl-base-1.0",
        kind="image",
        max_model_len_tokens=4096,
        max_num_seqs=64,
        output_len_mean_tokens=1.0,
        frontend_ms=20.0,
        image_steps=30,
        image_step_ms=45.0,
        image_max_batch=4,
    ),
}


def engine_preset(name: str) -> EngineConfig:
    """The preset called ``name``; ValueError naming the known presets otherwise."""
    try:
        return ENGINE_PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(ENGINE_PRESETS))
        raise ValueError(f"Unknown preset {name!r}; known: {known}") from None
