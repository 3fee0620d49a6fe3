"""Decode ``requests/*.jsonl`` bytes into typed columns fast (1M records in a few seconds).

Why not ``pandas.read_json(lines=True)``: it builds a Python dict per row and infers types
(tens of seconds at 1M rows). Here msgspec decodes each line into a slotted struct with the
``itl_s`` list left as raw JSON bytes (skipped, not parsed), the columns are pulled out with
``map(attrgetter)``, and all ITL lists are parsed in one go by pyarrow's multi-threaded CSV
float parser after turning ``[a,b]`` into one number per line. A file that msgspec cannot
decode whole (a corrupt or truncated line, NaN written by a non-strict encoder) falls back to
line-by-line decoding with the standard library, counting and skipping the bad lines.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped]

from analysis.schema import FRAME_COLUMNS, RECORD_DTYPES

log = logging.getLogger(__name__)

_NULL_RAW: Final = msgspec.Raw(b"null")
# ',' '[' ']' and blanks all become line breaks: one number per line, empty lines ignored.
_ITL_TO_LINES: Final = bytes.maketrans(b",[] \t", b"\n\n\n\n\n")


class _Record(msgspec.Struct, gc=False):
    """One line of ``requests/*.jsonl`` (``locustfiles.records``); extra keys are ignored."""

    t_sent_s: float
    t_done_s: float
    request_id: str = ""
    process_id: str = ""
    user_class: str = ""
    endpoint: str = ""
    stage: str | None = None
    tier: str | None = None
    t_intended_s: float | None = None
    t_first_chunk_s: float | None = None
    t_first_token_s: float | None = None
    t_last_token_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int = 0
    n_chunks: int = 0
    itl_s: msgspec.Raw = _NULL_RAW
    status: int = 0
    error_kind: str | None = None
    error: str | None = None
    retries: int = 0


@dataclass(frozen=True, slots=True)
class DecodedRecords:
    """Columns of one or more JSONL files, plus what went wrong while reading them."""

    frame: pd.DataFrame
    """One row per record, columns ``analysis.schema.FRAME_COLUMNS``."""
    itl_values_s: npt.NDArray[np.float64]
    """Every ``itl_s`` entry, record after record, in file order."""
    itl_counts: npt.NDArray[np.int64]
    """Entries of ``itl_values_s`` per frame row (0 when ``itl_s`` is null)."""
    bad_lines: int
    """Lines skipped because they could not be decoded (not counting truncated tails)."""
    truncated_files: tuple[int, ...]
    """Indices (into the ``files`` argument) of files whose last line was cut short."""


def decode_jsonl(files: Sequence[bytes]) -> DecodedRecords:
    """Decode the contents of one or more ``requests/*.jsonl`` files into one frame.

    A last line without its newline that does not parse is a write cut short by a crash or a
    copy taken mid-run: it is dropped and its file's index is listed in ``truncated_files``.
    """
    structs: list[_Record] = []
    dicts: list[dict[str, Any]] = []
    bad = 0
    truncated: list[int] = []
    # The decoder allocates millions of small objects that the cyclic GC would scan
    # repeatedly for nothing (they hold no cycles); pausing it halves decode time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for index, data in enumerate(files):
            body, tail = _split_tail(data)
            try:
                structs.extend(msgspec.json.Decoder(_Record).decode_lines(body))
            except (msgspec.DecodeError, msgspec.ValidationError):
                more, more_dicts, more_bad = _decode_line_by_line(body)
                structs.extend(more)
                dicts.extend(more_dicts)
                bad += more_bad
            if tail:
                more, more_dicts, more_bad = _decode_line_by_line(tail)
                structs.extend(more)
                dicts.extend(more_dicts)
                if more_bad:
                    truncated.append(index)
        return _build(structs, dicts, bad, tuple(truncated))
    finally:
        if was_enabled:
            gc.enable()


def _split_tail(data: bytes) -> tuple[bytes, bytes]:
    if not data or data.endswith(b"\n"):
        return data, b""
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def _decode_line_by_line(body: bytes) -> tuple[list[_Record], list[dict[str, Any]], int]:
    decoder = msgspec.json.Decoder(_Record)
    structs: list[_Record] = []
    dicts: list[dict[str, Any]] = []
    bad = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            structs.append(decoder.decode(line))
            continue
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        try:  # the stdlib accepts NaN/Infinity, which json.dumps writes by default
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict) and "t_sent_s" in row and "t_done_s" in row:
            dicts.append(row)
        else:
            bad += 1
    if bad:
        log.warning("skipped %d undecodable request record line(s)", bad)
    return structs, dicts, bad


def _build(
    structs: Sequence[_Record],
    dicts: Sequence[dict[str, Any]],
    bad: int,
    truncated: tuple[int, ...],
) -> DecodedRecords:
    getters: list[tuple[Callable[[str], Callable[[Any], Any]], Sequence[Any]]] = [
        (operator.attrgetter, structs),
        (lambda name: lambda row: row.get(name), dicts),
    ]
    columns: dict[str, Any] = {}
    for name in FRAME_COLUMNS:
        values: list[Any] = []
        for make_getter, rows in getters:
            values.extend(map(make_getter(name), rows))
        columns[name] = _typed(values, RECORD_DTYPES[name])
    frame = pd.DataFrame(columns, columns=list(FRAME_COLUMNS))
    raws = [r.itl_s for r in structs]
    lists = [row.get("itl_s") for row in dicts]
    itl_values, itl_counts = _itl(raws, lists, frame["n_chunks"].to_numpy())
    return DecodedRecords(frame, itl_values, itl_counts, bad, truncated)


def _typed(values: list[Any], dtype: str) -> Any:
    if dtype == "float64":
        return np.array(values, dtype=np.float64)  # None -> NaN
    if dtype == "int64":
        return np.array([0 if v is None else v for v in values], dtype=np.int64)
    if dtype == "category":
        return pd.Categorical(values)
    # A Series of dtype object: pandas 3 would otherwise convert a million strings to its
    # Arrow-backed str dtype, seconds of work for columns the analysis never computes on.
    return pd.Series(values, dtype=object)


def _itl(
    raws: list[msgspec.Raw], lists: list[Any], n_chunks: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    present = np.fromiter((raw != _NULL_RAW for raw in raws), dtype=bool, count=len(raws))
    fast_values = _parse_raw_lists([raw for raw in raws if raw != _NULL_RAW])
    # Contract (locustfiles.records): one itl_s entry per content chunk after the first.
    counts = np.where(present, np.maximum(n_chunks[: len(raws)] - 1, 0), 0)
    if int(counts.sum()) != fast_values.size:
        log.warning("itl_s lengths do not match n_chunks - 1; counting each list instead")
        counts = np.fromiter((_raw_len(raw) for raw in raws), dtype=np.int64, count=len(raws))
    slow = [np.asarray(v if isinstance(v, list) else [], dtype=np.float64) for v in lists]
    slow_counts = np.array([a.size for a in slow], dtype=np.int64)
    values = np.concatenate([fast_values, *slow]) if slow else fast_values
    return values, np.concatenate([counts, slow_counts]).astype(np.int64)


def _raw_len(raw: msgspec.Raw) -> int:
    if raw == _NULL_RAW:
        return 0
    return len(msgspec.json.decode(raw, type=list[float]))


def _parse_raw_lists(raws: list[msgspec.Raw]) -> npt.NDArray[np.float64]:
    if not raws:
        return np.empty(0, dtype=np.float64)
    blob = b"\n".join(raws).translate(_ITL_TO_LINES)
    table = pa_csv.read_csv(
        io.BytesIO(blob),
        read_options=pa_csv.ReadOptions(column_names=["v"], block_size=1 << 22),
        parse_options=pa_csv.ParseOptions(delimiter="\x01"),
        convert_options=pa_csv.ConvertOptions(column_types={"v": pa.float64()}),
    )
    if table.num_rows == 0:
        return np.empty(0, dtype=np.float64)
    return np.asarray(table.column("v").to_numpy(), dtype=np.float64)
