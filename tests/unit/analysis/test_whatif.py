"""What-if predictions: the stub's serving code in simulated time, driven as Locust drives it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import profiles
from analysis.client_sim import QueueBound
from analysis.io import load_run
from analysis.latency import derive_requests
from analysis.slo import parse_slo
from analysis.whatif import ClientModel, engine_config_from_stub, predict, profile_arrivals_s
from analysis.whatif_setup import setup_from_run
from locustfiles.distribution import Distribution
from locustfiles.records import RequestRecord
from target_stub.engine_config import engine_preset

SLO = parse_slo("ttft_p95_ms=200,tpot_p95_ms=30")
TINY = engine_preset("tiny")
PROMPTS, OUTPUTS = [100, 300, 200], [20, 60, 40]  # drawn as (prompt, output) pairs


def test_more_replicas_restore_the_slo_on_the_tiny_engine() -> None:
    # 20 -> 120 req/s of 20-60 token answers: beyond one tiny replica, within two
    profile = profiles.load("sweep", start=20, stop=120, steps=3, hold_s=20, warmup_s=5)
    one = predict(
        TINY, profile, SLO, replicas=1, seed=1, prompt_tokens=PROMPTS, output_tokens=OUTPUTS
    )
    two = predict(
        TINY, profile, SLO, replicas=2, seed=1, prompt_tokens=PROMPTS, output_tokens=OUTPUTS
    )
    offered = sum(s.target_start * s.duration_s for s in profile.stages)  # 5,250 expected
    assert two.requests == pytest.approx(offered, rel=0.05)
    # what is still in flight when the profile ends is cut, as the load generator cuts it
    assert one.requests < two.requests
    assert not one.slo_met and one.slo_attainment_frac < 0.8
    assert two.slo_met and two.slo_attainment_frac > 0.99
    assert two.percentiles_ms["ttft_p95_ms"] < one.percentiles_ms["ttft_p95_ms"]
    assert two.goodput_rps <= two.achieved_rps


def test_closed_loop_users_obey_the_response_time_law() -> None:
    """N users thinking Z seconds: each is either waiting for a reply or thinking, so
    N = X (R + Z) (the interactive response-time law)."""
    users, think_s, duration_s = 12, 0.25, 30.0
    profile = profiles.load("steady", baseline=users, duration_s=duration_s)
    clients = ClientModel(think_time=Distribution("fixed", (think_s,)))
    result = predict(
        TINY,
        profile,
        SLO,
        replicas=1,
        clients=clients,
        prompt_tokens=PROMPTS,
        output_tokens=OUTPUTS,
    )
    frame = result.records
    late = frame["t_sent_s"] >= 5.0  # past the start-up transient
    window_s = duration_s - 5.0
    busy_s = (frame["t_done_s"] - frame["t_sent_s"])[late].sum() + think_s * late.sum()
    assert busy_s / window_s == pytest.approx(users, rel=0.05)


def test_a_users_profile_is_followed_second_by_second() -> None:
    """Users ramping 0 -> 20 over 10 s: the load follows the ramp, not its peak."""
    profile = profiles.load("steady", baseline=20, ramp_s=10, duration_s=10)
    result = predict(TINY, profile, SLO, replicas=2, prompt_tokens=PROMPTS, output_tokens=OUTPUTS)
    sent = result.records["t_sent_s"].to_numpy()
    early, late = np.sum(sent < 2.0), np.sum((sent >= 16.0) & (sent < 18.0))
    assert early * 4 < late


def test_replayed_arrivals_and_the_queue_bound() -> None:
    profile = profiles.load("steady", baseline=150, duration_s=10, mode="rate")
    arrivals = profile_arrivals_s(profile, 5)
    bounded = predict(
        TINY, profile, SLO, replicas=1, arrivals_s=arrivals, replications=2,
        queue=QueueBound(max_waiting_requests=4, reject_status=429),
        prompt_tokens=PROMPTS, output_tokens=OUTPUTS,
    )  # fmt: skip
    records = bounded.records[bounded.records["process_id"] == "sim-0"]
    sent = records["t_intended_s"].to_numpy()
    assert set(np.round(sent, 9)) <= set(np.round(arrivals, 9))
    assert len(sent) > 0.95 * len(arrivals)
    shed = derive_requests(records)["outcome"].to_numpy() == 2  # latency.SHED
    assert 0.1 < shed.mean() < 0.9 and set(records["status"][shed]) == {429}
    assert bounded.slo_attainment_frac < 0.9
    low, high = bounded.slo_attainment_range  # same arrivals, other lengths in each run
    assert low <= bounded.slo_attainment_frac <= high


def test_engine_config_is_read_from_a_stub_config() -> None:
    stub_config = {"preset": "tiny", "engine": TINY.model_dump(), "replicas": 1}
    assert engine_config_from_stub(stub_config) == TINY
    with pytest.raises(ValueError, match="replicas must be >= 1"):
        predict(TINY, profiles.load("sweep"), SLO, replicas=0, prompt_tokens=[1],
                output_tokens=[1])  # fmt: skip
    with pytest.raises(ValueError, match="Unknown router"):
        predict(TINY, profiles.load("sweep"), SLO, replicas=1, prompt_tokens=[1],
                output_tokens=[1], router="random")  # fmt: skip


def _write_run(run_dir: Path, mode: str) -> None:
    profile = profiles.load("steady", baseline=5, duration_s=4, mode=mode)
    (run_dir / "requests").mkdir(parents=True)
    manifest = {
        "schema_version": 1, "run_id": "r", "profile": profile.manifest_entry(),
        "stages": [], "stub_config": None,
        "workload": {"arrival": "closed", "arrival_cv": None, "max_in_flight": 50,
                     "think_time_s": "exponential:0.5"},
        "loadgen": {"processes": 2},
    }  # fmt: skip
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    stub = {"engine": TINY.model_dump(), "replicas": 3, "router": "round_robin",
            "overload": {"max_waiting_requests": 7, "reject_status": 429}}  # fmt: skip
    (run_dir / "stub_config.json").write_text(json.dumps(stub))
    lines = [
        RequestRecord(
            request_id=f"r{i}", process_id="p", user_class="u", endpoint="chat", stage=None,
            tier=None, t_intended_s=0.5 * i if mode == "rate" else None, t_sent_s=0.5 * i,
            t_first_chunk_s=0.5 * i + 0.02, t_first_token_s=0.5 * i + 0.02,
            t_last_token_s=0.5 * i + 0.2, t_done_s=0.5 * i + 0.2, prompt_tokens=100 + i,
            output_tokens=10 + i, n_chunks=10 + i, itl_s=None, status=200,
            error_kind=None, error=None, retries=0,
        ).to_json_line()
        for i in range(6)
    ]  # fmt: skip
    (run_dir / "requests" / "p.jsonl").write_text("".join(lines))


def test_a_run_directory_sets_the_what_if_up(tmp_path: Path) -> None:
    _write_run(tmp_path / "users", "users")
    setup = setup_from_run(load_run(tmp_path / "users"))
    assert setup.config == TINY and (setup.replicas, setup.router) == (3, "round_robin")
    assert setup.queue == QueueBound(max_waiting_requests=7, reject_status=429)
    assert setup.clients.think_time == Distribution("exponential", (0.5,))
    assert setup.clients.max_in_flight == 100  # 50 per process, 2 processes
    assert setup.prompt_tokens.tolist() == [100, 101, 102, 103, 104, 105]
    assert setup.output_tokens.tolist() == [10, 11, 12, 13, 14, 15]
    assert setup.profile.mode == "users" and setup.arrivals_s is None
    with pytest.raises(ValueError, match="same_arrivals"):
        setup.predict(SLO, same_arrivals=True)

    _write_run(tmp_path / "rate", "rate")
    setup = setup_from_run(load_run(tmp_path / "rate"))
    assert setup.clients.arrival == "poisson" and setup.arrivals_s == (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
    result = setup.predict(SLO, same_arrivals=True, replicas=1)
    assert result.replicas == 1 and result.requests == 6
