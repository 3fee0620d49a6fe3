"""Summary documents for the CLI's unit tests, checked against analysis's own schema.

Each one is validated by ``analysis.summary.SummaryV1`` so the CLI is tested against the
real summary.json contract, not a guess of it. The figures are fixtures (inputs to the
formatting and exit-code logic), not measurements.
"""

from __future__ import annotations

import copy
from typing import Any

from analysis.summary import SummaryV1


def stage(label: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "label": label,
        "t_start_s": 0.0,
        "t_end_s": 10.0,
        "n_finished": 200,
        "error_frac": 0.0,
        "slo_met": True,
    }
    row.update(values)
    return row


def summary(
    *,
    verdict: str = "pass",
    valid: bool = True,
    client_limited: bool = False,
    reasons: tuple[str, ...] = (),
    slo: dict[str, float] | None = None,
    stages: list[dict[str, Any]] | None = None,
    capacity: dict[str, Any] | None = None,
    surges: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "run_id": "20260101T000000Z-steady",
        "source": "records",
        "verdict": verdict,
        "slo": slo if slo is not None else {"ttft_p95_ms": 500.0, "error_max_frac": 0.01},
        "slo_source": "cli",
        "open_loop": False,
        "validity": {
            "valid": valid,
            "client_limited": client_limited,
            "reasons": list(reasons),
            "warnings": [],
            "missing": [],
        },
        "overall": {},
        "stages": stages
        if stages is not None
        else [stage("ramp", ttft_p95_ms=120.0), stage("steady", ttft_p95_ms=310.0)],
        "saturation": None,
        "capacity": capacity,
        "capacity_note": "",
        "surges": surges or [],
        "status_window_s": 5.0,
    }
    SummaryV1.model_validate(doc)  # the fixture must be a valid summary.json
    return copy.deepcopy(doc)


def capacity() -> dict[str, Any]:
    def count(value: int, low: int, high: int) -> dict[str, int]:
        return {"value": value, "low": low, "high": high}

    return {
        "peak_rps": 40.0,
        "per_replica_rps": 12.0,
        "per_replica_ci_rps": [11.0, 13.0],
        "utilisation_frac": 0.85,
        "headroom_multiplier": 1.5,
        "scaling_efficiency_frac": 1.0,
        "scaling_source": "assumed_linear",
        "replicas_normal": count(4, 4, 5),
        "replicas_surge": count(6, 6, 7),
        "replicas_n_plus_1": count(7, 7, 8),
        "replicas_erlang_c": 5,
        "gpus": count(7, 7, 8),
        "cost_per_hour": 21.0,
        "cost_per_hour_range": [21.0, 24.0],
        "caveats": [],
        "note": "",
    }
