"""What-if predictions from the stub's engine in simulated time."""

from __future__ import annotations

import pytest

import profiles
from analysis.slo import parse_slo
from analysis.whatif import engine_config_from_stub, predict
from target_stub.engine_config import engine_preset

SLO = parse_slo("ttft_p95_ms=200,tpot_p95_ms=30")


def test_more_replicas_restore_the_slo_on_the_tiny_engine() -> None:
    # 20 -> 120 req/s of 20-60 token answers: beyond one tiny replica, within two
    profile = profiles.load("sweep", start=20, stop=120, steps=3, hold_s=20, warmup_s=5)
    config = engine_preset("tiny")
    lengths = {"prompt_tokens": [100, 300], "output_tokens": [20, 60]}
    one = predict(config, profile, SLO, replicas=1, seed=1, **lengths)
    two = predict(config, profile, SLO, replicas=2, seed=1, **lengths)
    assert one.requests == two.requests > 4000
    assert not one.slo_met and one.slo_attainment_frac < 0.8
    assert two.slo_met and two.slo_attainment_frac > 0.99
    assert two.percentiles_ms["ttft_p95_ms"] < one.percentiles_ms["ttft_p95_ms"]
    assert two.goodput_rps <= two.achieved_rps


def test_engine_config_is_read_from_a_stub_config() -> None:
    config = engine_preset("tiny")
    stub_config = {"preset": "tiny", "engine": config.model_dump(), "replicas": 1}
    assert engine_config_from_stub(stub_config) == config
    with pytest.raises(ValueError, match="replicas must be >= 1"):
        predict(config, profiles.load("sweep"), SLO, replicas=0, prompt_tokens=[1],
                output_tokens=[1])  # fmt: skip
