"""analysis.schema reads exactly the fields locustfiles.records writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.io import RunDirectoryError, read_manifest
from analysis.schema import FRAME_COLUMNS, RECORD_COLUMNS, SUPPORTED_SCHEMA_VERSIONS
from locustfiles.records import FIELD_NAMES, SCHEMA_VERSION


def test_record_columns_equal_the_writer_fields() -> None:
    assert RECORD_COLUMNS == FIELD_NAMES
    assert set(FRAME_COLUMNS) == set(FIELD_NAMES) - {"itl_s"}


def test_writer_schema_version_is_supported() -> None:
    assert SCHEMA_VERSION in SUPPORTED_SCHEMA_VERSIONS


def test_manifest_tolerates_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "run_id": "x", "future_key": {"a": 1}}))
    manifest = read_manifest(path)
    assert manifest.run_id == "x"
    assert manifest.stages == []


def test_unsupported_schema_version_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 99, "run_id": "x"}))
    with pytest.raises(RunDirectoryError, match=r"unsupported schema_version 99; supported: 1"):
        read_manifest(path)
