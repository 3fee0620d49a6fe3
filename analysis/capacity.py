"""Capacity plan: replicas and GPUs for the normal peak, a surge and one failure (REFERENCE 4).

- Normal peak: N = ceil(lambda_peak / (u * e * X_slo)); X_slo is the per-replica maximum
  sustainable load under the SLO, u the target utilisation, e the scaling efficiency.
- Surge: with reaction time T_react (detect + scale + node + image + model load + warm-up)
  and a linear ramp to M x over T_ramp, pre-provision m = min(M, 1 + (M - 1) T_react / T_ramp)
  times the peak (a step surge, T_ramp = 0, needs the full M).
- N + 1: the surge count plus one replica, so one failure domain can be lost at the surge.
- Erlang C cross-check: the smallest N for which an M/M/N queue with one "server" per
  replica (service rate X_slo) makes a request wait with probability <= ``wait_max_frac``,
  computed in log space so that large N do not overflow.
- Uncertainty: every count is recomputed from the CI ends of X_slo (low count from the high
  end). Scaling efficiency e is measured from runs with several replicas when given,
  otherwise assumed linear (e = 1) and the caveat is stated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.special import gammaln, logsumexp

from analysis.stats import Interval


@dataclass(frozen=True, slots=True)
class CapacityInputs:
    peak_rps: float
    utilisation_frac: float = 0.85
    surge_multiplier: float = 2.0
    surge_ramp_s: float = 1800.0
    react_s: float = 300.0
    gpus_per_replica: int = 1
    price_per_gpu_hour: float | None = None
    wait_max_frac: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.utilisation_frac <= 1:
            raise ValueError(f"utilisation_frac must be in (0, 1], got {self.utilisation_frac}")
        if self.surge_multiplier < 1:
            raise ValueError(f"surge_multiplier must be >= 1, got {self.surge_multiplier}")
        if self.peak_rps < 0 or self.surge_ramp_s < 0 or self.react_s < 0:
            raise ValueError("peak_rps, surge_ramp_s and react_s must be >= 0")
        if self.gpus_per_replica < 1:
            raise ValueError(f"gpus_per_replica must be >= 1, got {self.gpus_per_replica}")


@dataclass(frozen=True, slots=True)
class Scaling:
    efficiency_frac: float
    source: Literal["measured", "assumed_linear"]
    note: str


@dataclass(frozen=True, slots=True)
class Count:
    """A count with its range from the confidence interval of the per-replica capacity."""

    value: int
    low: int
    high: int


@dataclass(frozen=True)
class CapacityPlan:
    inputs: CapacityInputs
    per_replica_rps: Interval
    scaling: Scaling
    headroom_multiplier: float
    replicas_normal: Count
    replicas_surge: Count
    replicas_n_plus_1: Count
    replicas_erlang_c: int | None
    gpus: Count
    cost_per_hour: tuple[float, float, float] | None
    """(value, low, high) in the currency of ``price_per_gpu_hour``."""
    caveats: tuple[str, ...]


def surge_headroom(multiplier: float, react_s: float, ramp_s: float) -> float:
    """m = min(M, 1 + (M - 1) * T_react / T_ramp); a step surge (T_ramp = 0) gives M."""
    if ramp_s <= 0:
        return multiplier
    return min(multiplier, 1.0 + (multiplier - 1.0) * react_s / ramp_s)


def replicas_for(rate_rps: float, per_replica_rps: float, utilisation: float, eff: float) -> int:
    if per_replica_rps <= 0:
        raise ValueError(f"per-replica capacity must be > 0 req/s, got {per_replica_rps}")
    return max(1, math.ceil(rate_rps / (utilisation * eff * per_replica_rps) - 1e-9))


def log_erlang_c(servers: int, offered_erlangs: float) -> float:
    """log P(wait) of an M/M/N queue with N = ``servers`` and a = ``offered_erlangs`` < N."""
    if offered_erlangs <= 0:
        return -math.inf
    if offered_erlangs >= servers:
        return 0.0
    k = list(range(servers))
    log_terms = [i * math.log(offered_erlangs) - float(gammaln(i + 1)) for i in k]
    log_last = (
        servers * math.log(offered_erlangs)
        - float(gammaln(servers + 1))
        + math.log(servers / (servers - offered_erlangs))
    )
    return log_last - float(logsumexp([*log_terms, log_last]))


def erlang_c_replicas(rate_rps: float, per_replica_rps: float, wait_max_frac: float) -> int:
    offered = rate_rps / per_replica_rps
    n = max(1, math.floor(offered) + 1)
    while log_erlang_c(n, offered) > math.log(wait_max_frac):
        n += 1
    return n


def scaling_efficiency(runs: Sequence[tuple[int, float]]) -> Scaling:
    """Efficiency from (replicas, max sustainable req/s) of runs at different replica counts:
    the mean of X_R / (R X_1) over R > 1 (clipped to (0, 1]); linear when none is given."""
    single = [x for r, x in runs if r == 1]
    multi = [(r, x) for r, x in runs if r > 1]
    if not single or not multi or single[0] <= 0:
        return Scaling(1.0, "assumed_linear", "scaling assumed linear: no multi-replica runs")
    ratios = [x / (r * single[0]) for r, x in multi]
    eff = min(max(sum(ratios) / len(ratios), 1e-6), 1.0)
    counts = ", ".join(str(r) for r, _ in multi)
    return Scaling(eff, "measured", f"efficiency {eff:.2f} measured with {counts} replicas")


def plan_capacity(
    per_replica_rps: Interval, inputs: CapacityInputs, scaling: Scaling | None = None
) -> CapacityPlan:
    """Raises ``ValueError`` when the per-replica capacity is not positive."""
    scaling = scaling or scaling_efficiency([])
    m = surge_headroom(inputs.surge_multiplier, inputs.react_s, inputs.surge_ramp_s)
    u, e = inputs.utilisation_frac, scaling.efficiency_frac
    x = per_replica_rps.estimate
    if x <= 0:
        raise ValueError(f"per-replica capacity must be > 0 req/s, got {x}")
    x_low = per_replica_rps.low if math.isfinite(per_replica_rps.low) else x
    x_high = per_replica_rps.high if math.isfinite(per_replica_rps.high) else x
    caveats = [scaling.note]
    if x_low <= 0:
        caveats.append("the CI of the per-replica capacity reaches 0: the high counts are bounded")
        caveats[-1] += " by the point estimate only"
        x_low = x

    def count(rate: float, extra: int = 0) -> Count:
        value = replicas_for(rate, x, u, e) + extra
        low = replicas_for(rate, max(x_high, x), u, e) + extra
        high = replicas_for(rate, min(x_low, x), u, e) + extra
        return Count(value, low, high)

    normal = count(inputs.peak_rps)
    surge = count(inputs.peak_rps * m)
    n_plus_1 = count(inputs.peak_rps * m, extra=1)
    g = inputs.gpus_per_replica
    gpus = Count(n_plus_1.value * g, n_plus_1.low * g, n_plus_1.high * g)
    cost = None
    if inputs.price_per_gpu_hour is not None:
        p = inputs.price_per_gpu_hour
        cost = (gpus.value * p, gpus.low * p, gpus.high * p)
    erlang = erlang_c_replicas(inputs.peak_rps, x * e, inputs.wait_max_frac)
    return CapacityPlan(
        inputs, per_replica_rps, scaling, m, normal, surge, n_plus_1, erlang, gpus, cost,
        tuple(caveats),
    )  # fmt: skip
