"""Capacity planning options (``run``, ``report``, ``plan``) and the ``plan`` command.

The arithmetic is analysis's (analysis/capacity.py, REFERENCE section 4); this module
validates the options, turns them into ``python -m analysis report`` flags, and for ``plan``
calls the analysis Python API on several run directories: runs at different replica counts
give the measured scaling efficiency, the run with the fewest replicas gives the
per-replica capacity. ``--json`` writes the ``capacity`` object of summary.json (same
fields, docs/analysis.md) plus ``runs``: ``[{run_dir, replicas, max_sustainable_rps}]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surgebench.exit_code import ExitCode, UsageError
from surgebench.options import check_positive, parse_multiplier, parse_slo

STUB_CONFIG_FILE = "stub_config.json"
"""Written by ``surgebench run`` beside the records: the stub's resolved settings."""


@dataclass(frozen=True, slots=True)
class CapacityOptions:
    """What the plan is for; None = analysis's default (or the run's own figure)."""

    peak_rps: float | None = None
    surge_multiplier: float | None = None
    ramp_s: float | None = None
    reaction_s: float | None = None
    price_per_gpu_hour: float | None = None
    gpus_per_replica: int | None = None

    @classmethod
    def from_cli(
        cls,
        *,
        peak_rps: float | None = None,
        surge: str | None = None,
        ramp_min: float | None = None,
        reaction_s: float | None = None,
        price_per_gpu_hour: float | None = None,
        gpus_per_replica: int | None = None,
    ) -> CapacityOptions:
        check_positive("--peak-rps", peak_rps)
        check_positive("--ramp-min", ramp_min, allow_zero=True)
        check_positive("--reaction-s", reaction_s, allow_zero=True)
        check_positive("--price-per-gpu-hour", price_per_gpu_hour)
        if gpus_per_replica is not None and gpus_per_replica < 1:
            raise UsageError(f"Invalid --gpus-per-replica {gpus_per_replica}; allowed: >= 1")
        return cls(
            peak_rps=peak_rps,
            surge_multiplier=None if surge is None else parse_multiplier(surge),
            ramp_s=None if ramp_min is None else ramp_min * 60.0,
            reaction_s=reaction_s,
            price_per_gpu_hour=price_per_gpu_hour,
            gpus_per_replica=gpus_per_replica,
        )

    def with_defaults(self, **defaults: Any) -> CapacityOptions:
        """Fill the fields still None (e.g. the profile's own multiplier and ramp)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        for name, value in defaults.items():
            if values.get(name) is None and value is not None:
                values[name] = value
        return CapacityOptions(**values)

    def report_args(self) -> list[str]:
        """The matching ``python -m analysis report`` flags."""
        pairs = (
            ("--peak-rps", self.peak_rps),
            ("--surge-multiplier", self.surge_multiplier),
            ("--surge-ramp-s", self.ramp_s),
            ("--react-s", self.reaction_s),
            ("--gpu-price", self.price_per_gpu_hour),
            ("--gpus-per-replica", self.gpus_per_replica),
        )
        return [arg for flag, value in pairs if value is not None for arg in (flag, f"{value:g}")]


def profile_surge_defaults(name: str, params: Mapping[str, Any]) -> dict[str, float | None]:
    """A surge profile's multiplier and ramp (profile time: the real-world ramp, not the
    compressed one) as plan defaults; a viral variant resolves to its (multiplier, ramp)."""
    from profiles.registry import BUILDERS

    builder = BUILDERS.get(name)
    if builder is not None:
        surge = getattr(builder.params_model.model_validate(dict(params)), "surge", None)
        if isinstance(surge, tuple) and len(surge) == 2:
            return {"surge_multiplier": float(surge[0]), "ramp_s": float(surge[1])}
    multiplier = params.get("multiplier")
    ramp_s = params.get("ramp_s")
    if not isinstance(multiplier, (int, float)):
        return {}  # not a surge profile: its ramp_s (a warm-up) says nothing about surges
    return {
        "surge_multiplier": float(multiplier),
        "ramp_s": float(ramp_s) if isinstance(ramp_s, (int, float)) else None,
    }


def stub_facts(run_dir: Path) -> tuple[int | None, int | None]:
    """``(replicas, gpus_per_replica)`` from ``stub_config.json`` when the run had one."""
    try:
        config = json.loads((run_dir / STUB_CONFIG_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None, None
    replicas = config.get("replicas")
    gpus = (config.get("engine") or {}).get("gpus_per_replica")
    return (
        replicas if isinstance(replicas, int) else None,
        gpus if isinstance(gpus, int) else None,
    )


def print_plan(
    run_dirs: tuple[Path, ...],
    capacity: CapacityOptions,
    slo_text: str | None,
    json_out: Path | None,
) -> int:
    """Analyse each run, plan from them, print the table; exit 0, or 2 without a plan."""
    from analysis.capacity import CapacityInputs, scaling_efficiency
    from analysis.io import RunDirectoryError, load_run
    from analysis.pipeline import AnalysisOptions, analyse
    from analysis.slo import slo_from_mapping
    from analysis.summary import build_summary

    slo_values = parse_slo(slo_text)
    slo = slo_from_mapping(slo_values) if slo_values else None
    measured = []
    for run_dir in run_dirs:
        replicas, gpus = stub_facts(run_dir)
        try:
            run = load_run(run_dir)
        except RunDirectoryError as err:
            raise UsageError(f"{run_dir}: {err}") from None
        result = analyse(run, AnalysisOptions(slo=slo, replicas_in_run=replicas))
        estimate = result.saturation.max_sustainable.estimate if result.saturation else math.nan
        measured.append((run_dir, run, replicas or 1, gpus, estimate))
    usable = [m for m in measured if math.isfinite(m[4]) and m[4] > 0]
    if not usable:
        print("no plan: no run reached a sustainable load under the SLO")
        return int(ExitCode.RUN_INVALID)
    scaling = scaling_efficiency([(r, x) for _, _, r, _, x in usable])
    base_dir, base_run, _, base_gpus, _ = min(usable, key=lambda m: m[2])
    caps = capacity.with_defaults(gpus_per_replica=base_gpus)
    given: dict[str, Any] = {
        key: value
        for key, value in (
            ("surge_multiplier", caps.surge_multiplier),
            ("surge_ramp_s", caps.ramp_s),
            ("react_s", caps.reaction_s),
            ("gpus_per_replica", caps.gpus_per_replica),
            ("price_per_gpu_hour", caps.price_per_gpu_hour),
        )
        if value is not None
    }
    inputs = CapacityInputs(peak_rps=caps.peak_rps or 0.0, **given)
    # The replicas behind the base run are analysis's call (ready replicas from the server
    # metrics when an autoscaler changed them, else stub_config.json).
    options = AnalysisOptions(
        slo=slo, peak_rps=caps.peak_rps, capacity=inputs, scaling=scaling
    )  # fmt: skip
    plan = build_summary(analyse(base_run, options)).capacity
    if plan is None:
        print("no plan: the SLO is broken at the lowest tested load")
        return int(ExitCode.RUN_INVALID)
    doc = plan.model_dump(mode="json")
    doc["runs"] = [
        {"run_dir": str(d), "replicas": r, "max_sustainable_rps": x} for d, _, r, _, x in measured
    ]
    for line in plan_lines(doc, base_dir):
        print(line)
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    return int(ExitCode.OK)


def plan_lines(doc: Mapping[str, Any], base_dir: Path) -> list[str]:
    from surgebench.ci_report import count_text

    low, high = doc["per_replica_ci_rps"]
    lines = [
        f"per replica: {doc['per_replica_rps']:.2f} req/s under the SLO (CI {low:.2f}-{high:.2f}),"
        f" measured in {base_dir}",
        f"scaling: {doc['scaling_efficiency_frac']:.2f} ({doc['scaling_source']})",
        f"peak {doc['peak_rps']:.2f} req/s at {doc['utilisation_frac']:.0%} utilisation;"
        f" surge headroom x{doc['headroom_multiplier']:.2f}",
        f"  replicas for the normal peak : {count_text(doc['replicas_normal'])}",
        f"  replicas for the surge       : {count_text(doc['replicas_surge'])}",
        f"  replicas for the surge, N+1  : {count_text(doc['replicas_n_plus_1'])}",
        f"  GPUs (surge, N+1)            : {count_text(doc['gpus'])}",
    ]
    if doc.get("cost_per_hour") is not None:
        lines.append(f"  cost per hour                : {doc['cost_per_hour']:,.2f}")
    lines += [f"  caveat: {c}" for c in doc.get("caveats") or []]
    return lines
