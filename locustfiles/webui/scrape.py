"""The target's server-side gauges for the live view, from its Prometheus ``/metrics``.

The stub mirrors vLLM's metric names (labelled per replica), so the same scrape works
against a real vLLM fleet. Every gauge is optional: a target without ``/metrics`` (OpenAI,
a proxy) or without a given metric simply shows nothing for it.

Read: ``vllm:num_requests_waiting`` and ``vllm:num_requests_running`` (summed over replicas),
``vllm:kv_cache_usage_perc`` (a 0..1 fraction despite the name; mean and max over replicas;
the older ``vllm:gpu_cache_usage_perc`` as a fallback) and every gauge whose name contains
``replicas`` (the stub's fleet gauges, e.g. ready/starting/failed replicas), keyed by the
name after its last ``:`` and the label values except ``model_name`` ("replicas ready").
"""

from __future__ import annotations

import logging
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

log = logging.getLogger(__name__)

# name, optional {labels}, value; an optional timestamp may follow.
_SAMPLE: Final = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL: Final = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_MAX_BODY_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerGauges:
    """One scrape, reduced to what the live view plots (None: the target does not export it)."""

    waiting: float | None
    running: float | None
    kv_usage_frac_mean: float | None
    kv_usage_frac_max: float | None
    replicas: Mapping[str, float] = field(default_factory=dict)


def parse_samples(text: str) -> dict[str, list[tuple[str, float]]]:
    """Prometheus text exposition -> {metric name: [(labels, value), ...]}; comments skipped."""
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, labels, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            continue
        out.setdefault(name, []).append((labels or "", value))
    return out


def reduce_gauges(samples: Mapping[str, list[tuple[str, float]]]) -> ServerGauges:
    def values(*names: str) -> list[float]:
        for name in names:
            found = [v for _, v in samples.get(name, []) if math.isfinite(v)]
            if found:
                return found
        return []

    waiting = values("vllm:num_requests_waiting")
    running = values("vllm:num_requests_running")
    kv = values("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
    replicas = {
        _series_label(name, labels): value
        for name, rows in samples.items()
        if "replicas" in name and not name.endswith(("_created", "_total"))
        for labels, value in rows
    }
    return ServerGauges(
        waiting=sum(waiting) if waiting else None,
        running=sum(running) if running else None,
        kv_usage_frac_mean=sum(kv) / len(kv) if kv else None,
        kv_usage_frac_max=max(kv) if kv else None,
        replicas=replicas,
    )


def _series_label(name: str, labels: str) -> str:
    """``surgebench:replicas{model_name="m",state="ready"}`` -> ``replicas ready``."""
    values = [v for k, v in _LABEL.findall(labels) if k != "model_name"]
    return " ".join([name.rpartition(":")[2], *values])


def metrics_url(host: str) -> str:
    """``/metrics`` at the root of the target's origin (a base URL may carry a path prefix)."""
    parts = urllib.parse.urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Target host {host!r} is not an http(s) URL; expected http://HOST:PORT")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


def scrape(url: str, *, timeout_s: float) -> ServerGauges | None:
    """Fetch and reduce; None when the target has no usable ``/metrics``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = response.read(_MAX_BODY_BYTES).decode("utf-8", errors="replace")
    except (OSError, urllib.error.URLError, ValueError) as exc:
        log.debug("no server metrics from %s: %s", url, exc)
        return None
    gauges = reduce_gauges(parse_samples(body))
    if gauges.waiting is None and gauges.kv_usage_frac_mean is None and not gauges.replicas:
        return None
    return gauges
