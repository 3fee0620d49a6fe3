"""Seeded scalar distributions written as compact specs (pure): lengths, think times.

Spec grammar (``KIND:PARAMS``), the form every length and time option takes:

===================  ======================================================
``fixed:V``          always V
``uniform:LO,HI``    uniform on [LO, HI]
``normal:MEAN,STD``  Gaussian, clipped at the distribution's floor
``lognormal:MED,S``  median MED, sigma S of the underlying normal
``exponential:MEAN`` exponential with that mean
``file``             take the value from the prompt file's entry (lengths only)
===================  ======================================================
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["fixed", "uniform", "normal", "lognormal", "exponential", "file"]
_ARITY: Final[dict[str, int]] = {
    "fixed": 1,
    "uniform": 2,
    "normal": 2,
    "lognormal": 2,
    "exponential": 1,
    "file": 0,
}


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: Kind
    params: tuple[float, ...]

    @classmethod
    def parse(cls, spec: str) -> Distribution:
        kind, _, rest = spec.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in _ARITY:
            raise ValueError(
                f"Unknown distribution {kind!r} in {spec!r}; known: {', '.join(_ARITY)}"
            )
        try:
            params = tuple(float(p) for p in rest.split(",")) if rest.strip() else ()
        except ValueError as exc:
            raise ValueError(f"Distribution parameters in {spec!r} must be numbers") from exc
        if len(params) != _ARITY[kind]:
            raise ValueError(
                f"Distribution {kind!r} takes {_ARITY[kind]} parameter(s), got {spec!r}"
            )
        if any(not math.isfinite(p) or p < 0 for p in params):
            raise ValueError(f"Distribution parameters must be finite and >= 0, got {spec!r}")
        if kind == "uniform" and params[0] > params[1]:
            raise ValueError(f"uniform needs LO <= HI, got {spec!r}")
        if kind == "lognormal" and params[0] <= 0:
            raise ValueError(f"lognormal needs a median > 0, got {spec!r}")
        return cls(kind, params)  # type: ignore[arg-type]

    @property
    def from_file(self) -> bool:
        return self.kind == "file"

    def sample(self, rng: random.Random) -> float:
        """One draw (>= 0). ``file`` distributions are sampled by the prompt corpus instead."""
        p = self.params
        if self.kind == "fixed":
            value = p[0]
        elif self.kind == "uniform":
            value = rng.uniform(p[0], p[1])
        elif self.kind == "normal":
            value = rng.gauss(p[0], p[1])
        elif self.kind == "lognormal":
            value = p[0] * math.exp(rng.gauss(0.0, p[1]))
        elif self.kind == "exponential":
            value = rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0
        else:
            raise ValueError("a 'file' distribution is sampled from the prompt file")
        return max(value, 0.0)

    def sample_int(self, rng: random.Random, *, low: int = 1, high: int | None = None) -> int:
        """One draw rounded to an integer and clipped to [low, high]."""
        value = max(low, round(self.sample(rng)))
        return value if high is None else min(value, high)

    def __str__(self) -> str:
        if not self.params:
            return self.kind
        return f"{self.kind}:" + ",".join(f"{p:g}" for p in self.params)
