"""The optional server-metrics scraper of the run-directory contract.

While Locust runs, a thread reads the target's Prometheus ``/metrics`` (the stub's, or
``--metrics-url`` for a vLLM-style server) once per ``interval_s`` and appends one line per
scrape to ``server_metrics.jsonl``: ``{"t_s": float, "samples": {"<name>{<labels>}": value}}``
with ``t_s`` in seconds since the run's t0 (``manifest.json`` ``t0_epoch_s``, so scrapes
line up with the records; scrapes before the manifest exists are skipped). Histogram buckets
and ``_created`` series are left out (analysis reads gauges, counters and sums; buckets would
multiply the file size by ~20). A failed scrape is skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

_SKIPPED_SUFFIXES = ("_bucket", "_created")


def parse_samples(text: str) -> dict[str, float]:
    """Prometheus text format -> ``{"name{labels}": value}`` (comments and buckets dropped)."""
    samples: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # The value follows the last '}' (label values may hold spaces), else the first space.
        brace = line.rfind("}")
        key, _, rest = (
            (line[: brace + 1], "", line[brace + 1 :]) if brace >= 0 else line.partition(" ")
        )
        name = key.split("{", 1)[0]
        if name.endswith(_SKIPPED_SUFFIXES):
            continue
        fields = rest.split()
        if not fields:
            continue
        try:
            samples[key.strip()] = float(fields[0])
        except ValueError:
            continue
    return samples


class MetricsScraper:
    """A daemon thread; ``start()`` then ``stop()`` (which waits for the last write)."""

    def __init__(self, url: str, run_dir: Path, *, interval_s: float = 1.0) -> None:
        self.url = url
        self.run_dir = run_dir
        self.interval_s = interval_s
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics-scraper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _t0(self) -> float | None:
        try:
            manifest = json.loads((self.run_dir / "manifest.json").read_text("utf-8"))
            return float(manifest["t0_epoch_s"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _loop(self) -> None:
        t0: float | None = None
        path = self.run_dir / "server_metrics.jsonl"
        with path.open("a", encoding="utf-8") as out:
            while not self._stop.wait(self.interval_s):
                t0 = t0 if t0 is not None else self._t0()
                if t0 is None:
                    continue
                try:
                    with urllib.request.urlopen(self.url, timeout=self.interval_s) as response:
                        text = response.read().decode("utf-8", errors="replace")
                except (urllib.error.URLError, OSError) as err:
                    log.debug("scrape of %s failed: %s", self.url, err)
                    continue
                line = {"t_s": round(time.time() - t0, 3), "samples": parse_samples(text)}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
                out.flush()
                self.scrapes += 1
