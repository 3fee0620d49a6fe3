"""The autoscaler: pure decisions on synthetic signals, then the whole fleet in simulated
time under a sustained surge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from target_stub.autoscaler import Autoscaler, AutoscalerConfig, FleetSignals
from target_stub.engine import Sequence

from .recording import RecordingSink, sim_fleet

CONFIG = AutoscalerConfig(
    enabled=True,
    min_replicas=1,
    max_replicas=3,
    interval_s=1.0,
    window_s=5.0,
    scale_up_waiting_per_replica=4.0,
    provisioning_delay_s=20.0,
    cooldown_s=30.0,
)
QUEUED = FleetSignals(ready=1, starting=0, waiting_requests=10, kv_usage_frac=0.5)
IDLE = FleetSignals(ready=2, starting=0, waiting_requests=0, kv_usage_frac=0.0)


def test_scale_up_needs_pressure_for_the_whole_window() -> None:
    scaler = Autoscaler(CONFIG)
    assert [scaler.decide(float(t), QUEUED) for t in range(5)] == [None] * 5
    decision = scaler.decide(5.0, QUEUED)
    assert decision is not None
    assert (decision.action, decision.reason) == ("scale_up", "queueing")
    assert "10.0 waiting requests per ready replica >= 4.0 for 5.0 s" in decision.detail
    assert scaler.decisions_total == {("scale_up", "queueing"): 1}


def test_a_calm_sample_restarts_the_window() -> None:
    scaler = Autoscaler(CONFIG)
    calm = FleetSignals(ready=1, starting=0, waiting_requests=1, kv_usage_frac=0.5)
    for t in range(4):
        assert scaler.decide(float(t), QUEUED) is None
    assert scaler.decide(4.0, calm) is None
    assert all(scaler.decide(float(t), QUEUED) is None for t in range(5, 10))
    assert scaler.decide(10.0, QUEUED) is not None


def test_kv_pressure_also_scales_up() -> None:
    scaler = Autoscaler(CONFIG)
    full = FleetSignals(ready=1, starting=0, waiting_requests=0, kv_usage_frac=0.95)
    decisions = [scaler.decide(float(t), full) for t in range(6)]
    assert decisions[-1] is not None and decisions[-1].reason == "kv_pressure"


def test_never_above_max_replicas() -> None:
    scaler = Autoscaler(CONFIG)
    at_max = FleetSignals(ready=2, starting=1, waiting_requests=100, kv_usage_frac=1.0)
    assert all(scaler.decide(float(t), at_max) is None for t in range(60))


def test_scale_down_after_cooldown_and_not_below_min() -> None:
    scaler = Autoscaler(CONFIG)
    decisions = [scaler.decide(float(t), IDLE) for t in range(31)]
    assert decisions[:30] == [None] * 30
    last = decisions[30]
    assert last is not None and (last.action, last.reason) == ("scale_down", "idle")
    one_left = FleetSignals(ready=1, starting=0, waiting_requests=0, kv_usage_frac=0.0)
    assert all(scaler.decide(float(t), one_left) is None for t in range(31, 200))


def test_below_min_scales_up_at_once() -> None:
    scaler = Autoscaler(CONFIG.model_copy(update={"min_replicas": 2}))
    decision = scaler.decide(0.0, FleetSignals(1, 0, 0, 0.0))
    assert decision is not None and decision.reason == "below_min"


def test_config_refuses_min_above_max() -> None:
    with pytest.raises(ValidationError, match="min_replicas=5 is above max_replicas=2"):
        AutoscalerConfig(min_replicas=5, max_replicas=2)


def test_fleet_scales_up_after_the_delay_under_sustained_queueing_and_back_down() -> None:
    """A 1-replica fleet (about 20 requests/s) gets 40 requests/s for 60 s, then nothing."""
    loop, fleet = sim_fleet(replicas=1, autoscaler=CONFIG)
    sinks: list[RecordingSink] = []

    def arrive() -> None:
        sink = RecordingSink(loop)
        sinks.append(sink)
        fleet.submit(Sequence(prompt_tokens=64, output_tokens=32, sink=sink))

    for i in range(2400):
        loop.call_at(i / 40.0, arrive)
    timeline: list[tuple[float, int, int]] = []
    for t in range(200):
        loop.run_until(float(t))
        timeline.append((float(t), fleet.count("ready"), fleet.count("starting")))

    ups = [d for d in fleet.autoscaler.recent if d.action == "scale_up"]
    downs = [d for d in fleet.autoscaler.recent if d.action == "scale_down"]
    assert len(ups) == 2  # max_replicas = 3
    first = ups[0]
    assert first.reason == "queueing"
    # Queueing starts within the first seconds; the window is 5 s of evaluations.
    assert 5.0 <= first.t_s <= 10.0
    ready_at = {t: ready for t, ready, _ in timeline}
    t_up = int(first.t_s)
    assert ready_at[t_up + 19] == 1 and ready_at[t_up + 21] >= 2  # 20 s cold start
    assert max(ready for _, ready, _ in timeline) == 3
    # Load ends at 60 s; each scale-down needs 30 s of calm and 30 s since the last action.
    assert [d.reason for d in downs] == ["idle", "idle"]
    assert downs[0].t_s >= 90.0
    assert downs[1].t_s - downs[0].t_s >= 30.0
    assert timeline[-1][1:] == (1, 0)
    assert all(sink.reason == "length" for sink in sinks)
    assert fleet.autoscaler.decisions_total == {
        ("scale_up", "queueing"): 2,
        ("scale_down", "idle"): 2,
    }
