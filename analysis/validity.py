"""Is the run fit to judge, and did it meet the SLO (the verdict)?

Invalid when the load generator says it was the bottleneck (manifest ``validity``), when
fewer than ``min_samples`` requests finished, or when there are no per-request records (a
plain Locust CSV run cannot check TTFT/TPOT SLOs). Warnings, which do not invalidate: a
stage whose highest SLO percentile rests on fewer than 10 / (1 - q) samples (200 for p95,
1,000 for p99), reading problems (truncated lines), the load generator's own warnings.
Verdict: "invalid", else "pass" when the steady state of every stage meets the SLO, else
"fail".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from analysis.io import RunData
from analysis.slo import Slo

Verdict = Literal["pass", "fail", "invalid"]


@dataclass(frozen=True, slots=True)
class Validity:
    valid: bool
    client_limited: bool
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    missing: tuple[str, ...]


def assess_validity(
    run: RunData,
    stage_table: pd.DataFrame | None,
    slo: Slo,
    min_samples: int,
    notes: Sequence[str] = (),
) -> Validity:
    manifest = run.manifest
    reasons: list[str] = []
    client_limited = manifest.validity.client_limited
    if client_limited:
        why = "; ".join(manifest.validity.reasons) or "no reason given"
        reasons.append(f"load generator was the bottleneck (client-limited): {why}")
    if run.source == "locust_csv":
        reasons.append("no per-request records: the SLO cannot be checked from Locust's CSV")
    else:
        finished = len(run.requests)
        if finished < min_samples:
            reasons.append(f"too few samples: {finished} requests finished (< {min_samples})")
    warnings = [*run.notes, *notes]
    if manifest.loadgen is not None:
        warnings.extend(f"load generator: {w}" for w in manifest.loadgen.warnings)
    if stage_table is not None and slo.targets:
        q = max(t.quantile_pct for t in slo.targets)
        needed = round(10.0 / (1.0 - q / 100.0))
        for label, finished in zip(stage_table["label"], stage_table["n_finished"], strict=True):
            n = int(finished)
            if 0 < n < needed:
                warnings.append(
                    f"stage {label}: p{q:g} rests on {n} samples (< {needed}); read it as rough"
                )
    return Validity(not reasons, client_limited, tuple(reasons), tuple(warnings), run.missing)


def verdict_of(validity: Validity, any_stage_violated: bool) -> Verdict:
    if not validity.valid:
        return "invalid"
    return "fail" if any_stage_violated else "pass"
