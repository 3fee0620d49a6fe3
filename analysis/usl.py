"""Universal Scalability Law fit (Gunther): X(N) = gamma N / (1 + alpha (N - 1) + beta N (N - 1)).

Fitted by bounded non-linear least squares (scipy ``least_squares``, alpha and beta in [0, 1],
gamma > 0) on at least ``MIN_POINTS`` points; N is the concurrency inside the server from
Little's law (throughput x mean latency), not the client's user count (REFERENCE section 4).
On the R usl package's SPEC SDM91 data this reproduces alpha 0.0277, beta 1.044e-4,
gamma 90.0 and N_max 96.5 (tests/unit/analysis/test_usl.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares

MIN_POINTS: Final = 6


@dataclass(frozen=True, slots=True)
class UslFit:
    alpha: float
    """Contention (serial fraction)."""
    beta: float
    """Coherency (crosstalk) cost."""
    gamma: float
    """Throughput of one unit of concurrency (requests/s at N = 1)."""
    n_max: float
    """Concurrency of peak throughput, sqrt((1 - alpha) / beta); inf when beta is 0."""
    x_max_rps: float
    """Throughput at ``n_max`` (the model's ceiling)."""
    r2: float
    n_points: int


def usl_throughput(
    n: npt.ArrayLike, alpha: float, beta: float, gamma: float
) -> npt.NDArray[np.float64]:
    n_arr = np.asarray(n, dtype=np.float64)
    return gamma * n_arr / (1.0 + alpha * (n_arr - 1.0) + beta * n_arr * (n_arr - 1.0))


def fit_usl(concurrency: npt.ArrayLike, throughput_rps: npt.ArrayLike) -> UslFit:
    """Fit the USL; raises ``ValueError`` with fewer than ``MIN_POINTS`` usable points."""
    n = np.asarray(concurrency, dtype=np.float64)
    x = np.asarray(throughput_rps, dtype=np.float64)
    keep = np.isfinite(n) & np.isfinite(x) & (n > 0) & (x > 0)
    n, x = n[keep], x[keep]
    if n.size < MIN_POINTS:
        raise ValueError(
            f"USL fit needs at least {MIN_POINTS} load points with positive concurrency and "
            f"throughput, got {n.size}"
        )
    order = np.argsort(n)
    n, x = n[order], x[order]
    gamma0 = float(np.max(x / n))

    def residuals(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return usl_throughput(n, p[0], p[1], p[2]) - x

    best = None
    # Start from a few corners: the surface is flat in beta when N is small.
    for a0, b0 in ((0.01, 1e-4), (0.1, 1e-3), (0.001, 1e-6), (0.5, 0.01)):
        result = least_squares(
            residuals,
            x0=[a0, b0, gamma0],
            bounds=([0.0, 0.0, 0.0], [1.0, 1.0, np.inf]),
            x_scale="jac",
            xtol=1e-14,
            ftol=1e-14,
            gtol=1e-14,
            max_nfev=5000,
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    alpha, beta, gamma = (float(v) for v in best.x)
    ss_res = float(np.sum(best.fun**2))
    ss_tot = float(np.sum((x - x.mean()) ** 2))
    n_max = math.sqrt((1.0 - alpha) / beta) if beta > 0 else math.inf
    x_max = (
        float(usl_throughput(n_max, alpha, beta, gamma))
        if math.isfinite(n_max)
        else (gamma / alpha if alpha > 0 else math.inf)
    )
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return UslFit(alpha, beta, gamma, n_max, x_max, r2, int(n.size))
