"""Monotone piecewise cubic Hermite (PCHIP) interpolation, for small point sets, fast.

Same derivatives as ``scipy.interpolate.PchipInterpolator`` (Fritsch-Carlson weighted
harmonic mean inside, the shape-preserving three-point formula at the ends; a unit test checks
the two agree), without scipy's per-call overhead: the bootstrap of the saturation point
builds thousands of these on ten-odd points.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq


def pchip_slopes(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Derivatives at the knots (``x`` strictly increasing, at least 2 points)."""
    h = np.diff(x)
    m = np.diff(y) / h
    if x.size == 2:
        return np.array([m[0], m[0]])
    d = np.zeros_like(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        w1 = 2 * h[1:] + h[:-1]
        w2 = h[1:] + 2 * h[:-1]
        whmean = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
        flat = (np.sign(m[1:]) != np.sign(m[:-1])) | (m[1:] == 0) | (m[:-1] == 0)
        d[1:-1] = np.where(flat, 0.0, 1.0 / whmean)
    d[0] = _edge(h[0], h[1], m[0], m[1])
    d[-1] = _edge(h[-1], h[-2], m[-1], m[-2])
    return d


def _edge(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3 * abs(m0):
        return float(3 * m0)
    return float(d)


def pchip_at(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    d: npt.NDArray[np.float64],
    xq: float,
) -> float:
    """Value at ``xq`` (clamped to the knot range)."""
    if x.size == 1:
        return float(y[0])
    xq = min(max(xq, float(x[0])), float(x[-1]))
    i = min(max(int(np.searchsorted(x, xq, side="right")) - 1, 0), x.size - 2)
    seg = (float(x[i]), float(x[i + 1]), float(y[i]), float(y[i + 1]), float(d[i]), float(d[i + 1]))
    return _hermite(seg, xq)


def _hermite(seg: tuple[float, float, float, float, float, float], xq: float) -> float:
    """Cubic Hermite on one segment ``(x0, x1, y0, y1, d0, d1)`` at ``xq``."""
    x0, x1, y0, y1, d0, d1 = seg
    h = x1 - x0
    t = (xq - x0) / h
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * y0
        + (t3 - 2 * t2 + t) * h * d0
        + (-2 * t3 + 3 * t2) * y1
        + (t3 - t2) * h * d1
    )


def segment_root(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], i: int, level: float
) -> float:
    """The x in [x[i-1], x[i]] where the interpolant equals ``level``; needs
    y[i-1] <= level < y[i] (PCHIP is monotone on a monotone segment, so the root is unique)."""
    lo, hi = float(x[i - 1]), float(x[i])
    if hi <= lo:
        return lo
    d = pchip_slopes(x, y)
    args = (lo, hi, float(y[i - 1]), float(y[i]), float(d[i - 1]), float(d[i]))
    f_lo = _hermite(args, lo) - level
    if f_lo >= 0 or math.isclose(f_lo, 0.0):
        return lo
    return float(brentq(lambda v: _hermite(args, v) - level, lo, hi, xtol=1e-9 * max(hi, 1.0)))
