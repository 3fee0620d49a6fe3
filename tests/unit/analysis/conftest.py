"""Synthetic runs with known ground truth, written once per session into a temp directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.io import RunData, load_run
from analysis.pipeline import AnalysisOptions, RunAnalysis, analyse
from tests.data.queue_sim import SimStage, simulate_fcfs
from tests.data.run_writer import write_run

SERVICE_RATE_RPS = 100.0
E2E_P95_SLO_MS = 300.0
SWEEP_RATES_RPS = (40.0, 55.0, 70.0, 80.0, 88.0, 95.0, 105.0, 115.0)
STAGE_S = 40.0


def sweep_stages(rates: tuple[float, ...] = SWEEP_RATES_RPS) -> list[SimStage]:
    return [SimStage(f"r{r:g}", r, STAGE_S) for r in rates]


@pytest.fixture(scope="session")
def mm1_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Open-loop step sweep against an M/M/1 server with mu = 100 req/s."""
    stages = sweep_stages()
    records = simulate_fcfs(
        stages, service_rate_rps=SERVICE_RATE_RPS, servers=1, rng=np.random.default_rng(7)
    )
    directory = tmp_path_factory.mktemp("mm1") / "run"
    return write_run(directory, records, stages, slo={"e2e_p95_ms": E2E_P95_SLO_MS}, files=2)


@pytest.fixture(scope="session")
def mm1_run(mm1_run_dir: Path) -> RunData:
    return load_run(mm1_run_dir)


@pytest.fixture(scope="session")
def mm1_analysis(mm1_run: RunData) -> RunAnalysis:
    return analyse(mm1_run, AnalysisOptions(n_boot=200))


@pytest.fixture(scope="session")
def surge_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 req/s, then a 4x step surge for 20 s against 2 servers of 50 req/s that shed
    arrivals finding 40 waiting, then back to 30 req/s; one fault event at t = 100 s."""
    stages = [
        SimStage("base", 30.0, 40.0),
        SimStage("surge", 120.0, 20.0),
        SimStage("after", 30.0, 60.0),
    ]
    records = simulate_fcfs(
        stages,
        service_rate_rps=50.0,
        servers=2,
        rng=np.random.default_rng(3),
        shed_queue_len=40,
    )
    samples = [
        {"t_s": float(t), "samples": {
            'vllm:num_requests_running{model_name="m"}': 2.0,
            'vllm:num_requests_waiting{model_name="m"}': 30.0 if 40 <= t < 70 else 0.0,
            'vllm:kv_cache_usage_perc{model_name="m"}': 0.4,
        }}
        for t in range(0, 120)
    ]  # fmt: skip
    events = [{"t_s": 100.0, "kind": "kill_replica", "target": "replica-1", "params": {},
               "ok": True, "detail": ""}]  # fmt: skip
    directory = tmp_path_factory.mktemp("surge") / "run"
    return write_run(
        directory, records, stages, slo={"e2e_p95_ms": 500.0}, server_samples=samples,
        events=events, stub_config={"replicas": 1, "max_num_seqs": 256},
    )  # fmt: skip
