"""Parsing and validation of command-line values, done once at the edge (pure).

Every failure raises :class:`~surgebench.exit_code.UsageError` whose message names the bad
value and the allowed ones, so the CLI can print it and exit 3.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from surgebench.exit_code import UsageError

SLO_METRICS: Final = (
    "ttft",
    "ttft_intended",
    "ttft_first_chunk",
    "tpot",
    "itl",
    "e2e",
    "e2e_intended",
)
"""Latency metrics an SLO can bound (docs/METRICS.md); a unit test keeps this equal to
``analysis.slo.SLO_METRICS`` so a typo fails here, before a run, not after it."""
ERROR_BUDGET_KEY: Final = "error_max_frac"

_SLO_KEY = re.compile(r"^(?P<metric>[a-z0-9_]+?)_p(?P<q>\d{1,2}(?:\.\d+)?)_ms$")
LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the load goes: the stub this command starts, or an external base URL."""

    kind: Literal["stub", "external"]
    url: str | None  # None for "stub" until the stub is listening


def parse_slo(text: str | None) -> dict[str, float]:
    """``"ttft_p95_ms=500,tpot_p95_ms=50"`` -> ``{"ttft_p95_ms": 500.0, "tpot_p95_ms": 50.0}``.

    Keys are ``<metric>_p<q>_ms`` with metric one of :data:`SLO_METRICS` and 0 < q < 100
    (values: milliseconds > 0), or ``error_max_frac`` (a fraction in [0, 1]). An empty or
    missing text means "no SLO given" (analysis then applies its default).
    """
    if text is None or not text.strip():
        return {}
    allowed = ", ".join(f"{m}_p<q>_ms" for m in SLO_METRICS) + f" or {ERROR_BUDGET_KEY}"
    slo: dict[str, float] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if key == ERROR_BUDGET_KEY:
            slo[key] = _fraction(key, value)
            continue
        match = _SLO_KEY.match(key)
        if not sep or match is None or match["metric"] not in SLO_METRICS:
            raise UsageError(
                f"Invalid SLO item {item!r}; expected KEY=MILLISECONDS with KEY one of "
                f"{allowed} (e.g. ttft_p95_ms=500,tpot_p95_ms=50)"
            )
        quantile = float(match["q"])
        if not 0 < quantile < 100:
            raise UsageError(
                f"Invalid SLO percentile p{match['q']} in {key!r}; allowed: 0 < q < 100"
            )
        try:
            threshold_ms = float(value)
        except ValueError:
            raise UsageError(
                f"Invalid SLO threshold {value!r} for {key}; expected a number of milliseconds > 0"
            ) from None
        if not threshold_ms > 0 or threshold_ms == float("inf"):
            raise UsageError(
                f"Invalid SLO threshold {value!r} for {key}; allowed: a finite number > 0 (ms)"
            )
        if key in slo:
            raise UsageError(f"SLO {key!r} given twice; give each metric once")
        slo[key] = threshold_ms
    return slo


def _fraction(key: str, value: str) -> float:
    try:
        frac = float(value)
    except ValueError:
        frac = -1.0
    if not 0.0 <= frac <= 1.0:
        raise UsageError(f"Invalid SLO value {value!r} for {key}; allowed: a fraction in [0, 1]")
    return frac


def format_slo(slo: dict[str, float]) -> str:
    """Inverse of :func:`parse_slo` (for passing an SLO on to subprocesses)."""
    return ",".join(f"{key}={value:g}" for key, value in slo.items())


def parse_target(text: str) -> Target:
    """``stub`` or an ``http(s)://host[:port][/prefix]`` base URL (trailing slash removed)."""
    if text == "stub":
        return Target(kind="stub", url=None)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"Invalid target {text!r}; allowed: 'stub' or an http(s):// base URL "
            "such as http://127.0.0.1:8000 or https://staging.example.com/v1"
        )
    if parts.username or parts.password:
        raise UsageError(
            f"Target URL {parts.scheme}://***@{parts.hostname} embeds credentials; put the key "
            "in an environment variable and pass its name with --api-key-env"
        )
    return Target(kind="external", url=text.rstrip("/"))


def parse_multiplier(text: str) -> float:
    """``"10x"``, ``"10"`` or ``"2.5x"`` -> the surge multiplier (>= 1)."""
    raw = text.strip().lower().removesuffix("x")
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(
            f"Invalid surge {text!r}; expected a multiplier >= 1 such as 10x"
        ) from None
    if not 1.0 <= value < float("inf"):
        raise UsageError(f"Invalid surge {text!r}; allowed: a multiplier >= 1 such as 2x or 10x")
    return value


def check_choice(option: str, value: str, known: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``known``, else a UsageError listing them."""
    choices = sorted(known)
    if value not in choices:
        raise UsageError(f"Unknown {option} {value!r}; known: {', '.join(choices) or '(none)'}")
    return value


def check_positive(option: str, value: float | None, *, allow_zero: bool = False) -> None:
    """Numbers such as durations, scales and counts must be > 0 (or >= 0)."""
    if value is None:
        return
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value == float("inf"):
        bound = ">= 0" if allow_zero else "> 0"
        raise UsageError(f"Invalid {option} {value!r}; allowed: a finite number {bound}")


def check_loopback(option: str, host: str) -> str:
    """The stub and the Locust web UI bind to loopback only (house rule: no open ports)."""
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UsageError(
            f"Invalid {option} {host!r}; allowed: a loopback address ({', '.join(LOOPBACK_HOSTS)})"
        )
    return host


def check_env_name(option: str, name: str | None) -> str | None:
    """An environment variable NAME (never the secret itself)."""
    if name is None:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UsageError(
            f"Invalid {option}: expected the NAME of an environment variable "
            "(letters, digits, underscore), not its value"
        )
    return name
