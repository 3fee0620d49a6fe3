"""Decode large ``requests/*.jsonl`` sets on several cores (reading is most of a report's time).

The files are cut into byte ranges that end on line boundaries, about one range per worker
process; each worker reads and decodes its ranges (``record_decoder.decode_jsonl``) and the
parent concatenates the columns (categorical columns through ``union_categoricals``). Below
``PARALLEL_MIN_BYTES`` in total, or with one worker, everything is decoded in-process.
Workers are forked: they inherit the imported modules, so starting them costs milliseconds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from analysis.record_decoder import DecodedRecords, decode_jsonl

PARALLEL_MIN_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Range:
    file_index: int
    path: Path
    start: int
    end: int
    last: bool
    """The range ends at the end of its file (so it may hold a truncated last line)."""


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def decode_paths(
    paths: Sequence[Path], *, workers: int | None = None, min_bytes: int = PARALLEL_MIN_BYTES
) -> DecodedRecords:
    """Decode ``paths``; ``truncated_files`` indexes into ``paths``."""
    n_workers = default_workers() if workers is None else max(1, workers)
    sizes = [p.stat().st_size for p in paths]
    if n_workers == 1 or sum(sizes) < min_bytes:
        return decode_jsonl([p.read_bytes() for p in paths])
    ranges = _ranges(paths, sizes, n_workers)
    groups = [ranges[i::n_workers] for i in range(n_workers)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
        parts = list(pool.map(_decode_ranges, groups))
    truncated = sorted(
        {group[i].file_index for group, part in zip(groups, parts, strict=True)
         for i in part.truncated_files if group[i].last}
    )  # fmt: skip
    return _concat(parts, tuple(truncated))


def _ranges(paths: Sequence[Path], sizes: Sequence[int], n_workers: int) -> list[_Range]:
    target = max(sum(sizes) // n_workers, 1)
    out: list[_Range] = []
    for index, (path, size) in enumerate(zip(paths, sizes, strict=True)):
        cuts = [0]
        with path.open("rb") as handle:
            offset = target
            while offset < size:
                handle.seek(offset)
                handle.readline()  # move to the start of the next line
                position = handle.tell()
                if position >= size:
                    break
                cuts.append(position)
                offset = position + target
        cuts.append(size)
        for k in range(len(cuts) - 1):
            out.append(_Range(index, path, cuts[k], cuts[k + 1], last=k == len(cuts) - 2))
    return out


def _decode_ranges(ranges: Sequence[_Range]) -> DecodedRecords:
    blobs = []
    for r in ranges:
        with r.path.open("rb") as handle:
            handle.seek(r.start)
            blobs.append(handle.read(r.end - r.start))
    return decode_jsonl(blobs)


def _concat(parts: Sequence[DecodedRecords], truncated: tuple[int, ...]) -> DecodedRecords:
    frames = [p.frame for p in parts]
    columns: dict[str, object] = {}
    for name in frames[0].columns:
        series = [f[name] for f in frames]
        if isinstance(series[0].dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals([s.array for s in series], ignore_order=True)
        else:
            columns[name] = pd.concat(series, ignore_index=True)
    frame = pd.DataFrame(columns, columns=frames[0].columns)
    return DecodedRecords(
        frame=frame,
        itl_values_s=np.concatenate([p.itl_values_s for p in parts]),
        itl_counts=np.concatenate([p.itl_counts for p in parts]),
        bad_lines=sum(p.bad_lines for p in parts),
        truncated_files=truncated,
    )
