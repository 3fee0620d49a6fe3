"""Live progress of a run, read from the run directory while Locust writes it.

It tails ``requests/*.jsonl`` (whole lines only: a half-written last line waits for the next
poll) and ``offered.csv``, and renders one status line: stage, elapsed/total, offered vs
achieved load, live p95 TTFT over the last ``window_s`` seconds, and error counts. Reading
the files (instead of talking to Locust) keeps the CLI free of any Locust import and shows
exactly what analysis will see.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the status line shows; rates in req/s, TTFT in ms, times in run seconds."""

    elapsed_s: float
    total_s: float | None
    stage: str | None
    offered: str | None  # "12.0 req/s" or "40 users (38 running)"
    achieved_rps: float
    ttft_p95_ms: float | None
    completed: int
    errors: int
    dropped: int

    def render(self) -> str:
        total = f"/{self.total_s:.0f}s" if self.total_s else "s"
        ttft = "-" if self.ttft_p95_ms is None else f"{self.ttft_p95_ms:.0f} ms"
        parts = [
            f"[{self.stage or '-'}]",
            f"{self.elapsed_s:.0f}{total}",
            f"offered {self.offered or '-'}",
            f"achieved {self.achieved_rps:.1f} req/s",
            f"p95 TTFT {ttft}",
            f"done {self.completed}",
            f"errors {self.errors}",
        ]
        if self.dropped:
            parts.append(f"dropped {self.dropped}")
        return "  ".join(parts)


@dataclass
class _Window:
    # (t_done_s, ttft_ms or nan) of records completed in the last window_s seconds.
    recent: deque[tuple[float, float]] = field(default_factory=deque)
    completed: int = 0
    errors: int = 0
    dropped: int = 0
    latest_t_s: float = 0.0


class RunTail:
    """Incremental reader of one run directory (cheap to poll once a second)."""

    def __init__(self, run_dir: Path, *, window_s: float = 10.0) -> None:
        self.run_dir = run_dir
        self.window_s = window_s
        self._offsets: dict[Path, int] = {}
        self._window = _Window()
        self._t0_epoch_s: float | None = None

    def poll(self, *, total_s: float | None = None, now_epoch_s: float | None = None) -> Snapshot:
        for path in sorted((self.run_dir / "requests").glob("*.jsonl")):
            self._read_new_lines(path)
        now = time.time() if now_epoch_s is None else now_epoch_s
        t0 = self._t0()
        elapsed_s = max(0.0, now - t0) if t0 is not None else self._window.latest_t_s
        self._trim(elapsed_s)
        stage, offered = self._offered()
        recent = self._window.recent
        ttfts = sorted(v for _, v in recent if not math.isnan(v))
        span_s = min(self.window_s, max(elapsed_s, 1.0))
        return Snapshot(
            elapsed_s=elapsed_s,
            total_s=total_s,
            stage=stage,
            offered=offered,
            achieved_rps=len(recent) / span_s,
            ttft_p95_ms=_quantile(ttfts, 0.95) if ttfts else None,
            completed=self._window.completed,
            errors=self._window.errors,
            dropped=self._window.dropped,
        )

    def _t0(self) -> float | None:
        if self._t0_epoch_s is None:
            try:
                manifest = json.loads((self.run_dir / "manifest.json").read_text("utf-8"))
                self._t0_epoch_s = float(manifest["t0_epoch_s"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return self._t0_epoch_s

    def _read_new_lines(self, path: Path) -> None:
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self._offsets[path] = offset + end + 1
        for line in chunk[: end + 1].splitlines():
            try:
                self._add(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue  # a foreign or damaged line: analysis reports it, progress skips it

    def _add(self, record: dict[str, object]) -> None:
        window = self._window
        t_done_s = float(record["t_done_s"])  # type: ignore[arg-type]
        window.latest_t_s = max(window.latest_t_s, t_done_s)
        kind = record.get("error_kind")
        if kind == "dropped":
            window.dropped += 1
            return
        if kind is not None:
            window.errors += 1
            return
        window.completed += 1
        sent, first = record.get("t_sent_s"), record.get("t_first_token_s")
        ttft_ms = (
            (float(first) - float(sent)) * 1000.0  # type: ignore[arg-type]
            if first is not None and sent is not None
            else math.nan
        )
        window.recent.append((t_done_s, ttft_ms))

    def _trim(self, now_s: float) -> None:
        recent = self._window.recent
        # Records arrive out of order across processes; a sort keeps trimming exact.
        if recent and any(recent[i][0] > recent[i + 1][0] for i in range(len(recent) - 1)):
            self._window.recent = recent = deque(sorted(recent))
        while recent and recent[0][0] < now_s - self.window_s:
            recent.popleft()

    def _offered(self) -> tuple[str | None, str | None]:
        path = self.run_dir / "offered.csv"
        try:
            text = path.read_text("utf-8")
        except OSError:
            return None, None
        rows = list(csv.DictReader(io.StringIO(text)))
        # The last row may be half-written; take the last complete one.
        row = next((r for r in reversed(rows) if r.get("actual_users") not in (None, "")), None)
        if row is None:
            return None, None
        stage = row.get("stage") or None
        if row.get("target_rps"):
            return stage, f"{float(row['target_rps']):.1f} req/s"
        if row.get("target_users"):
            users = float(row["target_users"])
            actual = float(row.get("actual_users") or 0)
            return stage, f"{users:.0f} users ({actual:.0f} running)"
        return stage, None


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), without importing numpy here."""
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class ProgressPrinter:
    """One refreshing line on a terminal; else a line every ``every_s`` seconds (CI logs)."""

    def __init__(self, stream: TextIO, *, every_s: float = 10.0) -> None:
        self.stream = stream
        self.every_s = every_s
        self._tty = stream.isatty()
        self._last_print = -math.inf

    def show(self, snapshot: Snapshot) -> None:
        line = snapshot.render()
        if self._tty:
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_print >= self.every_s:
            self._last_print = now
            self.stream.write(line + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
