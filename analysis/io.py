"""Read a run directory into typed frames (the only module of ``analysis`` that reads files).

Layout and file formats: docs/ARCHITECTURE.md ("The run directory"). A directory with no
``manifest.json`` but a Locust ``*_stats_history.csv`` is read as a plain Locust CSV run, with
``missing`` saying what cannot be derived from it. Problems that do not stop the analysis
(a truncated last line, skipped lines, absent optional files) are returned in ``notes``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import ValidationError

from analysis.decode_pool import decode_paths
from analysis.locust_csv import LOCUST_MISSING, find_history_csv, read_locust_history
from analysis.schema import (
    EVENT_COLUMNS,
    FRAME_COLUMNS,
    OFFERED_COLUMNS,
    RECORD_DTYPES,
    SERVER_METRIC_COLUMNS,
    SUPPORTED_SCHEMA_VERSIONS,
    Manifest,
)

log = logging.getLogger(__name__)

STUB_CONFIG_FILE = "stub_config.json"


class RunDirectoryError(ValueError):
    """The directory is not a readable run (names the path and what is wrong)."""


@dataclass(frozen=True, slots=True)
class ItlSamples:
    """Every inter-token latency of the run as one flat array (kept out of the records frame)."""

    values_s: npt.NDArray[np.float64]
    record_index: npt.NDArray[np.int64]
    """Row position in ``RunData.requests`` of the record each value belongs to."""
    counts: npt.NDArray[np.int64]
    """Number of values per row of ``RunData.requests``."""


@dataclass(frozen=True)
class RunData:
    """Everything read from one run directory; frames are read-only by convention."""

    path: Path
    manifest: Manifest
    source: Literal["records", "locust_csv"]
    requests: pd.DataFrame
    """Columns ``analysis.schema.FRAME_COLUMNS`` (empty for a Locust CSV run)."""
    itl: ItlSamples
    offered: pd.DataFrame | None
    """``offered.csv``: t_s, stage, target_users, target_rps, actual_users."""
    server_metrics: pd.DataFrame | None
    """Long form of ``server_metrics.jsonl``: t_s, name (with labels), metric, value."""
    events: pd.DataFrame | None
    """``events.jsonl``: t_s, kind, target, params, ok, detail."""
    locust_history: pd.DataFrame | None
    """Locust's stats history (``analysis.locust_csv.HISTORY_COLUMNS``) when present."""
    notes: tuple[str, ...]
    missing: tuple[str, ...]
    stub_config_source: str | None = None
    """Where ``manifest.stub_config`` came from: "manifest", ``STUB_CONFIG_FILE`` or None."""


def load_run(path: str | Path, *, workers: int | None = None) -> RunData:
    """Read ``path`` (a surgebench run directory or a plain Locust ``--csv`` directory).

    ``workers``: processes decoding the records (default: up to 2, one per core); runs under
    64 MB of records are decoded in-process.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise RunDirectoryError(f"Run directory {str(directory)!r} does not exist")
    manifest_path = directory / "manifest.json"
    history_path = find_history_csv(directory)
    history = read_locust_history(history_path) if history_path else None
    if not manifest_path.exists():
        if history is None:
            raise RunDirectoryError(
                f"{str(directory)!r} has neither manifest.json (a surgebench run) nor "
                "*_stats_history.csv (a Locust --csv run)"
            )
        return _locust_only_run(directory, history)
    notes: list[str] = []
    manifest = read_manifest(manifest_path)
    stub_source = "manifest" if manifest.stub_config is not None else None
    manifest = _with_stub_config(manifest, directory, notes)
    if stub_source is None and manifest.stub_config is not None:
        stub_source = STUB_CONFIG_FILE
    files = sorted((directory / "requests").glob("*.jsonl"))
    if not files:
        notes.append("no requests/*.jsonl files: the run recorded no requests")
    decoded = decode_paths(files, workers=workers)
    for index in decoded.truncated_files:
        notes.append(f"{files[index].name}: last line truncated (dropped)")
    if decoded.bad_lines:
        notes.append(f"{decoded.bad_lines} undecodable record line(s) skipped")
    record_index = np.repeat(np.arange(len(decoded.frame), dtype=np.int64), decoded.itl_counts)
    offered = _read_offered(directory / "offered.csv", notes)
    server = _read_server_metrics(directory / "server_metrics.jsonl", notes)
    events = _read_events(directory / "events.jsonl", notes)
    for note in notes:
        log.info("%s: %s", directory, note)
    return RunData(
        path=directory,
        manifest=manifest,
        source="records",
        requests=decoded.frame,
        itl=ItlSamples(decoded.itl_values_s, record_index, decoded.itl_counts),
        offered=offered,
        server_metrics=server,
        events=events,
        locust_history=history,
        notes=tuple(notes),
        missing=() if server is not None else ("server metrics (server_metrics.jsonl)",),
        stub_config_source=stub_source,
    )


def read_manifest(path: Path) -> Manifest:
    """Parse and version-check ``manifest.json``."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunDirectoryError(f"Cannot read {path}: {exc}") from exc
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise RunDirectoryError(
            f"{path}: unsupported schema_version {version!r}; supported: "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise RunDirectoryError(f"{path} does not match the manifest schema: {exc}") from exc


def _with_stub_config(manifest: Manifest, directory: Path, notes: list[str]) -> Manifest:
    """The manifest, with ``stub_config`` from ``stub_config.json`` (written by ``surgebench
    run`` beside the records) when the manifest's own is null: the load generator never
    queries the stub, so only the CLI knows its settings."""
    path = directory / STUB_CONFIG_FILE
    if manifest.stub_config is not None or not path.exists():
        return manifest
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{STUB_CONFIG_FILE} unreadable ({exc}); stub settings unknown")
        return manifest
    if not isinstance(config, dict):
        notes.append(f"{STUB_CONFIG_FILE} is not a JSON object; stub settings unknown")
        return manifest
    notes.append(f"stub settings read from {STUB_CONFIG_FILE} (the manifest has none)")
    return manifest.model_copy(update={"stub_config": config})


def empty_requests() -> pd.DataFrame:
    """A zero-row records frame with the contract's columns and dtypes."""
    return pd.DataFrame(
        {name: pd.Series(dtype=RECORD_DTYPES[name]) for name in FRAME_COLUMNS},
        columns=list(FRAME_COLUMNS),
    )


def _locust_only_run(directory: Path, history: pd.DataFrame) -> RunData:
    manifest = Manifest(schema_version=1, run_id=directory.name)
    note = "plain Locust --csv run: no surgebench records; derived from Locust's stats history"
    return RunData(
        path=directory,
        manifest=manifest,
        source="locust_csv",
        requests=empty_requests(),
        itl=ItlSamples(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)),
        offered=None,
        server_metrics=None,
        events=None,
        locust_history=history,
        notes=(note,),
        missing=LOCUST_MISSING,
    )


def _read_offered(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        notes.append("offered.csv missing: offered load taken from the records")
        return None
    try:
        frame = pd.read_csv(path, on_bad_lines="skip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        notes.append(f"offered.csv unreadable ({exc}); offered load taken from the records")
        return None
    absent = [c for c in OFFERED_COLUMNS if c not in frame.columns]
    if absent:
        notes.append(f"offered.csv lacks column(s) {', '.join(absent)}; ignored")
        return None
    frame = frame[list(OFFERED_COLUMNS)].copy()
    for column in ("t_s", "target_users", "target_rps", "actual_users"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.dropna(subset=["t_s"]).reset_index(drop=True)


def _json_lines(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    lines = path.read_bytes().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            where = "last line truncated" if number == len(lines) else f"line {number} bad"
            notes.append(f"{path.name}: {where} (skipped)")
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_server_metrics(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    t_s: list[float] = []
    names: list[str] = []
    values: list[float] = []
    for row in _json_lines(path, notes):
        samples = row.get("samples")
        if not isinstance(samples, dict) or not isinstance(row.get("t_s"), int | float):
            continue
        for name, value in samples.items():
            if isinstance(value, int | float):
                t_s.append(float(row["t_s"]))
                names.append(str(name))
                values.append(float(value))
    frame = pd.DataFrame({"t_s": t_s, "name": names, "value": values})
    frame["metric"] = frame["name"].str.split("{", n=1).str[0]
    return frame[list(SERVER_METRIC_COLUMNS)]


def _read_events(path: Path, notes: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    rows = [r for r in _json_lines(path, notes) if isinstance(r.get("t_s"), int | float)]
    frame = pd.DataFrame(
        {column: [row.get(column) for row in rows] for column in EVENT_COLUMNS},
        columns=list(EVENT_COLUMNS),
    )
    frame["t_s"] = frame["t_s"].astype(np.float64)
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)
