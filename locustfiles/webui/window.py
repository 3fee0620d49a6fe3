"""Sliding-window LLM statistics for the live web view (pure: numpy only, no locust import).

Input is one sample per LLM event the users fire under request_type "LLM": the metric
(``TTFT``, ``TPOT`` or ``E2E``), the wall-clock completion time (epoch seconds, so samples
from several Locust processes share one time axis), the value in ms, the output tokens
(``E2E`` only) and the outcome. Latency percentiles use successful samples only and are
exact: numpy's default (linear) interpolation over the raw values, never Locust's buckets,
which round to about two significant digits. Rates are per second over the window.

``SampleBatch`` is also the wire format workers ship to the master in their stats report
(every 3 s): plain lists of numbers, so msgpack carries it unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from locustfiles.webui.samples import FloatArray, Quantiles, SortedSamples, TimedColumns

METRICS: Final = ("TTFT", "TPOT", "E2E")
OUTCOMES: Final = ("ok", "error", "shed", "dropped")
"""``shed``: the server refused for load (429/503/529); ``dropped``: the open-loop
generator's in-flight cap was full, so the request was never sent."""

_OK: Final = 0
# Overload refusals: OpenAI's 503 "engine overloaded", 429 rate limits, Anthropic's 529.
_SHED_STATUS: Final = (429, 503, 529)
_SHED_TEXT: Final = re.compile(r"\b(429|503|529)\b")
# A source silent for this long (a worker that quit or hangs) no longer holds the window back;
# workers report every 3 s.
_STALE_SOURCE_S: Final = 10.0


def outcome_code(outcome: str) -> int:
    try:
        return OUTCOMES.index(outcome)
    except ValueError:
        raise ValueError(f"Unknown outcome {outcome!r}; known: {', '.join(OUTCOMES)}") from None


def classify_failure(error_text: str, context: Mapping[str, Any] | None) -> int:
    """Outcome code of a failed request from its Locust request event.

    ``context["error_kind"]`` / ``context["status"]`` decide when the user put them there;
    otherwise the exception text does (the recorder's format is ``"<error_kind>: <detail>"``,
    and a refused request's detail names its HTTP status).
    """
    ctx = context or {}
    kind = ctx.get("error_kind") or error_text.partition(":")[0].strip()
    if kind == "dropped":
        return outcome_code("dropped")
    status = ctx.get("status")
    if status in _SHED_STATUS or (status is None and _SHED_TEXT.search(error_text)):
        return outcome_code("shed")
    return outcome_code("error")


@dataclass(frozen=True, slots=True)
class WindowSnapshot:
    """Everything the live view shows for one instant (``end_s``, epoch seconds)."""

    end_s: float
    window_s: float
    window: Mapping[str, Quantiles]
    """Per metric, over the window."""
    run: Mapping[str, Quantiles]
    """Per metric, since the run started."""
    completed_rps: float
    """Successful E2E events per second in the window (achieved load)."""
    attempted_rps: float
    """All E2E events (any outcome) per second in the window: arrivals that finished."""
    output_tps: float
    """Output tokens per second of successful requests, by completion time."""
    outcome_frac: Mapping[str, float]
    """Share of the window's E2E events per outcome (0 when there were none)."""
    totals: Mapping[str, int]
    """Run-to-date E2E counts per outcome, plus ``output_tokens``."""


class SampleBatch:
    """Columnar samples from one process since its last report (mutable accumulator)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[list[float]]] = {m: [[], [], [], []] for m in METRICS}

    def add(self, metric: str, t_s: float, value_ms: float, tokens: int, outcome: int) -> None:
        cols = self.cols[metric]
        cols[0].append(t_s)
        cols[1].append(value_ms)
        cols[2].append(tokens)
        cols[3].append(outcome)

    def __len__(self) -> int:
        return sum(len(c[0]) for c in self.cols.values())

    def drain(self, until_s: float) -> dict[str, Any]:
        """Hand over the samples plus ``until_s`` (everything that ended before it) and empty."""
        wire: dict[str, Any] = {"until_s": until_s, **self.cols}
        self.cols = {m: [[], [], [], []] for m in METRICS}
        return wire

    @staticmethod
    def rows(wire: Mapping[str, Any]) -> Iterable[tuple[str, float, float, int, int]]:
        for metric in METRICS:
            cols = wire.get(metric)
            if not cols:
                continue
            for t_s, value_ms, tokens, outcome in zip(*cols, strict=True):
                yield metric, float(t_s), float(value_ms), int(tokens), int(outcome)


class LlmWindow:
    """Exact sliding-window and run-to-date statistics over LLM samples from any processes."""

    def __init__(
        self, *, window_s: float, quantiles: Sequence[float], origin_s: float = -math.inf
    ) -> None:
        """``origin_s``: when the run started (epoch s); rates are per second of data, so the
        first ``window_s`` of a run divide by the time elapsed, not by the full window."""
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s!r}")
        bad = [q for q in quantiles if not 0 <= q <= 100]
        if bad:
            raise ValueError(f"quantiles must be in [0, 100], got {bad!r}")
        self.window_s = float(window_s)
        self.quantiles = tuple(sorted({float(q) for q in quantiles}))
        self.origin_s = origin_s
        self._run_quantiles: dict[str, Quantiles] | None = None
        self.reset()

    def run_size(self) -> int:
        """Latency samples kept for the run-wide percentiles (all metrics)."""
        return sum(len(samples) for samples in self._run.values())

    def add_quantiles(self, quantiles: Sequence[float]) -> None:
        """Also report these percentiles (an SLO's, known once the run's options are)."""
        self.quantiles = tuple(sorted({*self.quantiles, *(float(q) for q in quantiles)}))
        self._run_quantiles = None

    def reset(self) -> None:
        # (t_s, value_ms) of successful samples, per metric, pruned to the window.
        self._recent = {m: TimedColumns(width=1) for m in METRICS}
        # (t_s, outcome code, output tokens) of every E2E event.
        self._ends = TimedColumns(width=2)
        self._run = {m: SortedSamples() for m in METRICS}
        self._run_quantiles = None
        self._totals = dict.fromkeys(OUTCOMES, 0)
        self._tokens_total = 0
        self._covered: dict[str, float] = {}

    def add(
        self, metric: str, t_s: float, value_ms: float, tokens: int = 0, outcome: int = _OK
    ) -> None:
        if metric not in self._recent:
            raise ValueError(f"Unknown LLM metric {metric!r}; known: {', '.join(METRICS)}")
        if metric == "E2E":
            self._ends.append(t_s, outcome, tokens)
            self._totals[OUTCOMES[outcome]] += 1
            if outcome == _OK:
                self._tokens_total += tokens
        if outcome == _OK and math.isfinite(value_ms):
            self._recent[metric].append(t_s, value_ms)
            self._run[metric].append(value_ms)

    def add_batch(self, source: str, wire: Mapping[str, Any]) -> None:
        """Merge one shipped batch and note that ``source`` is complete up to its ``until_s``."""
        for metric, t_s, value_ms, tokens, outcome in SampleBatch.rows(wire):
            self.add(metric, t_s, value_ms, tokens, outcome)
        self.cover(source, float(wire["until_s"]))

    def cover(self, source: str, until_s: float) -> None:
        self._covered[source] = max(until_s, self._covered.get(source, -math.inf))

    def end_s(self, now_s: float) -> float:
        """Window end: the time up to which every reporting process has shipped its samples.

        Workers report every 3 s, so ending the window at ``now`` would undercount rates by
        up to 3 s worth of requests; ending it where every source is complete does not.
        """
        fresh = [u for u in self._covered.values() if u >= now_s - _STALE_SOURCE_S]
        return min(now_s, *fresh) if fresh else now_s

    def snapshot(self, now_s: float, *, refresh_run: bool = True) -> WindowSnapshot:
        """Statistics at ``now_s``. ``refresh_run=False`` reuses the last run-wide percentiles:
        merging new samples into a million sorted ones moves ~8 MB per metric (~7 ms), which
        a caller measuring latency in the same process may want to do only now and then."""
        end_s = self.end_s(now_s)
        start_s = end_s - self.window_s
        # Nothing before the window start can enter a later window: ends only move forward.
        window = {}
        for metric, recent in self._recent.items():
            recent.prune(start_s)
            window[metric] = self._quantiles(recent.select(start_s, end_s)[1])
        if refresh_run or self._run_quantiles is None:
            self._run_quantiles = {m: self._run[m].quantiles(self.quantiles) for m in METRICS}
        run = self._run_quantiles
        self._ends.prune(start_s)
        _, codes, tokens_col = self._ends.select(start_s, end_s)
        n_ends = int(codes.size)
        counts = {o: int(np.count_nonzero(codes == i)) for i, o in enumerate(OUTCOMES)}
        tokens = float(tokens_col[codes == _OK].sum())
        span_s = max(1e-9, min(self.window_s, end_s - self.origin_s))
        return WindowSnapshot(
            end_s=end_s,
            window_s=self.window_s,
            window=window,
            run=run,
            completed_rps=counts["ok"] / span_s,
            attempted_rps=n_ends / span_s,
            output_tps=tokens / span_s,
            outcome_frac={o: (counts[o] / n_ends if n_ends else 0.0) for o in OUTCOMES},
            totals={**self._totals, "output_tokens": self._tokens_total},
        )

    def _quantiles(self, arr: FloatArray) -> Quantiles:
        if arr.size == 0:
            return Quantiles(n=0, by_q={})
        found = np.percentile(arr, self.quantiles)
        return Quantiles(
            n=int(arr.size), by_q={q: float(v) for q, v in zip(self.quantiles, found, strict=True)}
        )
