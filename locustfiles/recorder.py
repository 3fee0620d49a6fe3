"""Records to files and to Locust's statistics.

``requests/<process_id>.jsonl``: one ``RequestRecord`` per line (columns and units in
``locustfiles/records.py``), appended by every process that runs requests. Lines are buffered
in memory and written + flushed by ``flush()``, which the lifecycle calls at least once a
second from a background greenlet and at stop/quit: a crash loses at most the last second.

Locust rows (request_type "LLM"): ``TTFT`` (ms, from sent), ``TPOT`` (ms), ``E2E`` (ms, with
the output tokens as response_length), plus one ``POST <path>`` row per request carrying
E2E and the failure, so the web UI and Locust's CSVs show both beside each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from locustfiles.records import RequestRecord
from locustfiles.timing import e2e_s, tpot_s, ttft_s

logger = logging.getLogger(__name__)

FireRequest = Callable[..., Any]
"""``environment.events.request.fire``."""


class RequestFailedError(Exception):
    """The failure Locust's statistics show for a failed request (no secrets inside)."""


class RecordSink:
    """Buffered JSONL writer for one process plus the Locust statistics bridge."""

    def __init__(self, path: Path, *, fire: FireRequest | None, paths: Mapping[str, str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] | None = path.open("a", encoding="utf-8")
        self._lines: list[str] = []
        self._fire = fire
        self._paths = dict(paths)
        self.count = 0

    def add(self, record: RequestRecord, *, live: bool = True) -> None:
        """Buffer the record; ``live`` also fires it into Locust's statistics."""
        self._lines.append(record.to_json_line())
        self.count += 1
        if live and self._fire is not None:
            fire_request_events(self._fire, record, self._paths.get(record.endpoint, ""))

    def flush(self) -> None:
        if self._fh is None or not self._lines:
            return
        lines, self._lines = self._lines, []
        self._fh.write("".join(lines))
        self._fh.flush()

    def close(self) -> None:
        self.flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def fire_request_events(fire: FireRequest, record: RequestRecord, path: str) -> None:
    e2e_ms = e2e_s(record) * 1000.0
    failure = None
    if record.error_kind is not None:
        failure = RequestFailedError(f"{record.error_kind}: {record.error or ''}".rstrip(": "))
    fire(
        request_type="POST",
        name=path or record.endpoint,
        response_time=e2e_ms,
        response_length=record.output_tokens,
        exception=failure,
        context={},
    )
    if failure is not None:
        return
    ttft = ttft_s(record)
    if ttft is not None:
        fire(
            request_type="LLM",
            name="TTFT",
            response_time=ttft * 1000.0,
            response_length=record.output_tokens,
            exception=None,
            context={},
        )
    tpot = tpot_s(record)
    if tpot is not None:
        fire(
            request_type="LLM",
            name="TPOT",
            response_time=tpot * 1000.0,
            response_length=record.output_tokens,
            exception=None,
            context={},
        )
    fire(
        request_type="LLM",
        name="E2E",
        response_time=e2e_ms,
        response_length=record.output_tokens,
        exception=None,
        context={},
    )
