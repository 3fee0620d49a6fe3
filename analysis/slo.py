"""Service-level objectives: parsing ``ttft_p95_ms=500,tpot_p95_ms=50`` and judging against them.

An SLO is a set of latency targets ``<metric>_p<q>_ms`` (the q-th percentile of the metric
over a window must be at most the threshold) plus ``error_max_frac`` (the fraction of finished
requests that failed, were shed, dropped or abandoned must be at most this). Per request, a
request is *good* when it succeeded and each of its own latencies is within every threshold
(vLLM's goodput rule); ``itl`` targets are judged per request on its TPOT (its mean ITL).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

SLO_METRICS: Final = (
    "ttft",
    "ttft_intended",
    "ttft_first_chunk",
    "tpot",
    "itl",
    "e2e",
    "e2e_intended",
)
DEFAULT_SLO_TEXT: Final = "ttft_p95_ms=500,tpot_p95_ms=50"
DEFAULT_ERROR_MAX_FRAC: Final = 0.01
_TARGET_KEY = re.compile(r"^(?P<metric>[a-z0-9_]+?)_p(?P<q>\d+(?:\.\d+)?)_ms$")


@dataclass(frozen=True, slots=True)
class SloTarget:
    """The ``quantile_pct``-th percentile of ``metric`` must be at most ``threshold_ms``."""

    metric: str
    quantile_pct: float
    threshold_ms: float

    @property
    def key(self) -> str:
        q = f"{self.quantile_pct:g}"
        return f"{self.metric}_p{q}_ms"

    @property
    def column(self) -> str:
        """Name of the percentile column in metric tables (``ttft_p95_ms``)."""
        return self.key


@dataclass(frozen=True, slots=True)
class Slo:
    targets: tuple[SloTarget, ...]
    error_max_frac: float = DEFAULT_ERROR_MAX_FRAC

    def to_dict(self) -> dict[str, float]:
        out = {t.key: t.threshold_ms for t in self.targets}
        out["error_max_frac"] = self.error_max_frac
        return out

    def loosened(self, factor: float) -> Slo:
        """Every latency threshold multiplied by ``factor`` (property tests, what-ifs)."""
        targets = tuple(
            SloTarget(t.metric, t.quantile_pct, t.threshold_ms * factor) for t in self.targets
        )
        return Slo(targets, self.error_max_frac)


def slo_from_mapping(values: Mapping[str, float]) -> Slo:
    """Build an SLO from ``{"ttft_p95_ms": 500, "error_max_frac": 0.01, ...}``.

    Raises ``ValueError`` naming the bad key or value and the allowed ones.
    """
    targets: list[SloTarget] = []
    error_max = DEFAULT_ERROR_MAX_FRAC
    for key, raw in values.items():
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"SLO value for {key!r} must be a finite number >= 0, got {raw!r}")
        if key == "error_max_frac":
            if value > 1:
                raise ValueError(f"error_max_frac must be in [0, 1], got {raw!r}")
            error_max = value
            continue
        match = _TARGET_KEY.match(key)
        if match is None or match["metric"] not in SLO_METRICS:
            raise ValueError(
                f"Unknown SLO key {key!r}; allowed: <metric>_p<q>_ms with metric one of "
                f"{', '.join(SLO_METRICS)} (e.g. ttft_p95_ms), or error_max_frac"
            )
        q = float(match["q"])
        if not 0 < q < 100:
            raise ValueError(f"SLO percentile in {key!r} must be in (0, 100), got {q:g}")
        targets.append(SloTarget(match["metric"], q, value))
    if not targets:
        raise ValueError("An SLO needs at least one <metric>_p<q>_ms target (e.g. ttft_p95_ms)")
    return Slo(tuple(targets), error_max)


def parse_slo(text: str) -> Slo:
    """Parse ``"ttft_p95_ms=500,tpot_p95_ms=50[,error_max_frac=0.01]"``."""
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        if not sep:
            raise ValueError(f"SLO item {part!r} is not KEY=VALUE (e.g. ttft_p95_ms=500)")
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            raise ValueError(f"SLO value {raw!r} for {key.strip()!r} is not a number") from None
    return slo_from_mapping(values)


DEFAULT_SLO: Final = parse_slo(DEFAULT_SLO_TEXT)
