"""Benchmark: request records -> full report (report.html + summary.json), timed by stage.

Generates a synthetic open-loop sweep run (``--records`` records over 10 stages of rising
rate, 4 process files, output lengths Poisson around ``--mean-output-tokens``, one ``itl_s``
entry per token after the first, every time rounded to microseconds as the load generator
writes them (locustfiles/llm_client.py, ``_ROUND_DIGITS``; ``--itl-decimals -1`` keeps the full
float repr, a harsher case); 2% shed in the
last two stages) in a temporary directory,
then times ``io.load_run``, ``pipeline.analyse``, ``summary.build_summary``,
``report.render_report`` and the file writes, in wall and CPU seconds (CPU includes the
decode workers; on a shared machine it is the steadier figure). Prints a Markdown table
(results go in docs/PERFORMANCE.md, "Analysis speed"). Usage::

    .venv/bin/python benchmarks/analysis_speed.py [--records 1000000] [--mean-output-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import numpy as np

from analysis.io import load_run
from analysis.pipeline import AnalysisOptions, analyse
from analysis.report import render_report
from analysis.summary import build_summary

T = TypeVar("T")
STAGES = 10
STAGE_S = 100.0
FILES = 4


def generate(
    directory: Path, n_records: int, mean_tokens: float, seed: int, itl_decimals: int | None = None
) -> int:
    """Write the synthetic run; returns the number of ITL values written."""
    rng = np.random.default_rng(seed)
    per_stage = np.linspace(0.5, 1.5, STAGES)
    per_stage = np.floor(per_stage / per_stage.sum() * n_records).astype(np.int64)
    per_stage[-1] += n_records - per_stage.sum()
    stage_idx = np.repeat(np.arange(STAGES), per_stage)
    start = np.concatenate(
        [np.sort(rng.uniform(i * STAGE_S, (i + 1) * STAGE_S, n)) for i, n in enumerate(per_stage)]
    )
    load = (stage_idx + 1) / STAGES  # latency grows with the stage's load
    ttft = rng.lognormal(np.log(0.05 + 0.4 * load**4), 0.4)
    tokens = rng.poisson(mean_tokens, n_records) + 1
    gaps = rng.gamma(4.0, (0.005 + 0.02 * load**2) / 4.0).repeat(1)
    flat = rng.gamma(4.0, 1.0, int((tokens - 1).sum())) / 4.0 * np.repeat(gaps, tokens - 1)
    if itl_decimals is not None:
        flat = np.round(flat, itl_decimals)

    offsets = np.concatenate(([0], np.cumsum(tokens - 1)))
    decode = np.add.reduceat(flat, offsets[:-1]) if flat.size else np.zeros(n_records)
    decode = np.where(tokens > 1, decode, 0.0)
    shed = (stage_idx >= STAGES - 2) & (rng.random(n_records) < 0.02)
    first = start + ttft
    last = first + decode
    done = last + 0.001
    sent = start + 0.0002
    first_chunk = first - 0.001
    if itl_decimals is not None:
        start, sent, first_chunk, first, last, done = (
            np.round(a, itl_decimals) for a in (start, sent, first_chunk, first, last, done)
        )
    (directory / "requests").mkdir(parents=True)
    encoder = msgspec.json.Encoder()
    handles = [(directory / "requests" / f"worker-{i}.jsonl").open("wb") for i in range(FILES)]
    try:
        for chunk in range(0, n_records, 50_000):
            lines: list[list[bytes]] = [[] for _ in range(FILES)]
            for i in range(chunk, min(chunk + 50_000, n_records)):
                ok = not shed[i]
                record: dict[str, Any] = {
                    "request_id": f"w{i % FILES}-{i}", "process_id": f"worker-{i % FILES}",
                    "user_class": "open_loop", "endpoint": "chat",
                    "stage": f"step{stage_idx[i]}", "tier": None,
                    "t_intended_s": float(start[i]), "t_sent_s": float(sent[i]),
                    "t_first_chunk_s": float(first_chunk[i]) if ok else None,
                    "t_first_token_s": float(first[i]) if ok else None,
                    "t_last_token_s": float(last[i]) if ok else None,
                    "t_done_s": float(done[i]) if ok else float(start[i]) + 0.002,
                    "prompt_tokens": 200, "output_tokens": int(tokens[i]) if ok else 0,
                    "n_chunks": int(tokens[i]) if ok else 0,
                    "itl_s": flat[offsets[i] : offsets[i + 1]].tolist() if ok else None,
                    "status": 200 if ok else 429, "error_kind": None if ok else "status",
                    "error": None if ok else "429 rate_limit_exceeded", "retries": 0,
                }  # fmt: skip
                lines[i % FILES].append(encoder.encode(record))
            for handle, chunk_lines in zip(handles, lines, strict=True):
                handle.write(b"\n".join(chunk_lines) + b"\n")
    finally:
        for handle in handles:
            handle.close()
    rates = per_stage / STAGE_S
    stages = [
        {"name": f"step{i}", "t_start_s": i * STAGE_S, "t_end_s": (i + 1) * STAGE_S,
         "target_start": float(r), "target_end": float(r), "transition": "step"}
        for i, r in enumerate(rates)
    ]  # fmt: skip
    manifest = {
        "schema_version": 1, "run_id": "bench", "profile": {"name": "sweep", "mode": "rate"},
        "stages": stages, "slo": {"ttft_p95_ms": 500, "tpot_p95_ms": 50},
    }  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return int(flat.size)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the decode workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(label: str, rows: list[tuple[str, float, float]], fn: Callable[[], T]) -> T:
    t0, c0 = time.perf_counter(), _cpu_s()
    out = fn()
    rows.append((label, time.perf_counter() - t0, _cpu_s() - c0))
    return out


def one_pass(run_dir: Path, out: Path) -> list[tuple[str, float, float]]:
    """Time each stage once (wall and CPU seconds); the last row is the total."""
    rows: list[tuple[str, float, float]] = []
    run = timed("read (io.load_run)", rows, lambda: load_run(run_dir))
    analysis = timed("analyse (pipeline.analyse)", rows, lambda: analyse(run, AnalysisOptions()))
    summary = timed("summary.json model", rows, lambda: build_summary(analysis))
    page = timed("figures + HTML (render_report)", rows, lambda: render_report(analysis, summary))
    out.mkdir(exist_ok=True)

    def write() -> None:
        (out / "report.html").write_text(page)
        (out / "summary.json").write_text(summary.model_dump_json(indent=2))

    timed("write files", rows, write)
    rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--mean-output-tokens", type=float, default=32.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (the best is shown)")
    parser.add_argument(
        "--itl-decimals",
        type=int,
        default=6,
        help="round times to this many decimals, as the recorder does (default 6; -1: full repr)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        n_itl = generate(
            run_dir,
            args.records,
            args.mean_output_tokens,
            args.seed,
            None if args.itl_decimals < 0 else args.itl_decimals,
        )
        size_mb = sum(f.stat().st_size for f in (run_dir / "requests").iterdir()) / 1e6
        print(f"generated {args.records:,} records, {n_itl:,} ITL values, {size_mb:,.0f} MB "
              f"of JSONL in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        best: list[tuple[str, float, float]] | None = None
        for _ in range(args.repeat):
            rows = one_pass(run_dir, Path(tmp) / "out")
            if best is None or rows[-1][1] < best[-1][1]:
                best = rows
        assert best is not None
        load = os.getloadavg()[0]
        print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}; best of {args.repeat}; "
              f"load average at the end {load:.1f}\n")  # fmt: skip
        print("| stage | wall s | CPU s |\n|---|---:|---:|")
        for label, seconds, cpu in best:
            print(f"| {label} | {seconds:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
