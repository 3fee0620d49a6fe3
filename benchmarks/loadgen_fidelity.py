"""How many concurrent LLM streams one Locust process on one core measures within 5 %.

For each reader (surgebench's users, Locust's requests-based ``HttpUser`` and its
``FastHttpUser``, both with ``iter_lines()``) and each stream count N, one Locust process,
pinned to core 1, runs N closed-loop users against a reference server pinned to core 0 whose
every stream has an exact TTFT and ITL. After a warm-up, the benchmark compares the measured
mean TTFT and mean ITL with the truth and reports the achieved concurrency (Little's law over
the window), the output tokens/s and the CPU of both processes. A point "sustains" N when
both errors are within 5 % and the achieved concurrency is at least 95 % of N.

The reference server (``benchmarks/reference_stream_server.py``, a plain epoll loop)
pre-encodes every event and writes each token at its due time computed from the request's
arrival, one timer for all streams. The truth is what it actually did over the window (its
mean TTFT from the kernel-stamped arrival, its mean gap between a stream's writes, its lag:
columns "server TTFT / ITL" and "server late"; windows aligned only while the load is
steady, docs/PERFORMANCE.md). ``--server stub`` uses ``python -m target_stub
--fixed-ttft-ms ... --fixed-itl-ms ...`` instead, with the nominal values as the truth.

Usage::

    python benchmarks/loadgen_fidelity.py                       # the default grid
    python benchmarks/loadgen_fidelity.py --readers ours --streams 500,1000,2000 --itl-ms 50

Results are printed as a Markdown table (docs/PERFORMANCE.md, "Load generator fidelity") and
written as JSON with ``--out``. Output: one row per (reader, N) with the columns of the table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
REFERENCE_SERVER = Path(__file__).resolve().parent / "reference_stream_server.py"
READERS = ("ours", "httpuser", "fasthttpuser")
TOLERANCE_FRAC = 0.05

_REFERENCE_LOCUSTFILE = """
import json, os, time
from locust import {base}, task

_OUT = open(os.environ["BENCH_OUT"] + ".%d" % os.getpid(), "a", buffering=1)
_BODY = {{"model": "{model}", "messages": [{{"role": "user", "content": "hi"}}],
          "max_tokens": {tokens}, "stream": True, "ignore_eos": True}}


class Reader({base}):
    @task
    def stream(self):
        sent = time.monotonic()
        times = []
        {request}
            for line in lines:
                if isinstance(line, str):
                    line = line.encode()
                if line.startswith(b"data: ") and b'"content":"' in line \\
                        and b'"content":""' not in line:
                    times.append(time.monotonic())
        _OUT.write(json.dumps([sent, times, time.monotonic()]) + "\\n")
"""
_REQUESTS = {
    "httpuser": (
        "HttpUser",
        'with self.client.post("/v1/chat/completions", json=_BODY, stream=True, '
        "catch_response=True) as response:\n"
        "            lines = response.iter_lines()",
    ),
    "fasthttpuser": (
        "FastHttpUser",
        "if True:\n"
        '            lines = self.client.iter_lines("/v1/chat/completions", method="POST", '
        "json=_BODY)",
    ),
}


@dataclass(frozen=True)
class Point:
    reader: str
    streams: int
    ttft_truth_ms: float
    itl_truth_ms: float
    requests: int
    ttft_mean_ms: float
    ttft_err_frac: float
    ttft_p99_ms: float
    itl_mean_ms: float
    itl_err_frac: float
    concurrency: float
    tokens_per_s: float
    loadgen_cpu_frac: float
    server_cpu_frac: float
    load_avg: float
    """The machine's 1-minute load average at the end of the point (other jobs included)."""
    server_late_mean_ms: float
    """The server's mean lag behind the due times of its writes (NaN: not measured)."""
    server_late_frac: float
    """Fraction of the server's writes more than 1 ms behind their due time."""
    sustained: bool


def _cores() -> tuple[int, int] | None:
    if not hasattr(os, "sched_getaffinity") or shutil.which("taskset") is None:
        return None
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else None


def _start_server(args: argparse.Namespace, cores: tuple[int, int] | None) -> tuple[Any, str]:
    if args.server == "stub":
        cmd = [
            sys.executable, "-m", "target_stub", "--port", "0", "--preset", "tiny",
            "--fixed-ttft-ms", str(args.ttft_ms), "--fixed-itl-ms", str(args.itl_ms),
            "--log-level", "warning",
        ]  # fmt: skip
    else:
        cmd = [
            sys.executable, str(REFERENCE_SERVER), "--ttft-ms", str(args.ttft_ms),
            "--itl-ms", str(args.itl_ms), "--tokens", str(args.tokens),
        ]  # fmt: skip
        cmd += ["--stats-file", str(args.stats_file)]
    if cores is not None:
        cmd = ["taskset", "-c", str(cores[0]), *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("server did not start")


def _model(args: argparse.Namespace) -> str:
    return "tiny-llm" if args.server == "stub" else "reference"


def _locust_cmd(
    reader: str, n: int, url: str, work: Path, args: argparse.Namespace
) -> tuple[list[str], dict[str, str]]:
    # Two spare seconds: the window must close before Locust stops its users.
    seconds = int(args.warmup_s + args.duration_s + 2)
    common = ["--headless", "-u", str(n), "-r", str(max(n / args.ramp_s, 1)), "-t",
              f"{seconds}s", "--host", url, "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
    env = dict(os.environ)
    if reader == "ours":
        cmd = [
            sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / "chat.py"), *common,
            "--run-dir", str(work / "run"), "--model", _model(args),
            "--prompt-tokens", "fixed:16", "--output-tokens",
            f"fixed:{args.tokens}", "--ignore-eos",
        ]  # fmt: skip
        return cmd, env
    base, request = _REQUESTS[reader]
    locustfile = work / f"{reader}.py"
    locustfile.write_text(
        _REFERENCE_LOCUSTFILE.format(
            base=base, request=request, tokens=args.tokens, model=_model(args)
        )
    )
    env["BENCH_OUT"] = str(work / "reader")
    return [sys.executable, "-m", "locust", "-f", str(locustfile), *common], env


def _samples(reader: str, work: Path) -> list[tuple[float, list[float], float]]:
    """``(sent, content chunk times, done)`` per completed request, monotonic seconds."""
    if reader != "ours":
        rows: list[list[Any]] = []
        for path in work.glob("reader.*"):
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
        return [(float(s), [float(x) for x in t], float(d)) for s, t, d in rows]
    out = []
    for path in (work / "run" / "requests").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r["error_kind"] is not None or r["t_first_token_s"] is None:
                continue
            times = [r["t_first_token_s"]]
            for gap in r["itl_s"] or []:
                times.append(times[-1] + gap)
            out.append((r["t_sent_s"], times, r["t_done_s"]))
    return out


def _measure(
    reader: str, n: int, url: str, server: Any, *, args: argparse.Namespace, cores: Any
) -> Point:
    with tempfile.TemporaryDirectory(prefix="loadgen-fidelity-") as tmp:
        work = Path(tmp)
        cmd, env = _locust_cmd(reader, n, url, work, args)
        if cores is not None:
            cmd = ["taskset", "-c", str(cores[1]), *cmd]
        log = (work / "locust.log").open("w")
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        locust_ps, server_ps = psutil.Process(proc.pid), psutil.Process(server.pid)
        time.sleep(args.warmup_s)
        stats_before = _server_stats(args)
        locust_ps.cpu_percent(None)
        server_ps.cpu_percent(None)
        cpu_l, cpu_s = [], []
        end = time.monotonic() + args.duration_s
        while time.monotonic() < end:
            time.sleep(1.0)
            cpu_l.append(locust_ps.cpu_percent(None) / 100)
            cpu_s.append(server_ps.cpu_percent(None) / 100)
        truth = _truth(args, stats_before, _server_stats(args))
        proc.wait(timeout=120)
        log.close()
        rows = _samples(reader, work)
        if not rows:
            raise RuntimeError(
                f"{reader} recorded nothing: {(work / 'locust.log').read_text()[-2000:]}"
            )
    return _point(reader, n, rows, cpu_l=cpu_l, cpu_s=cpu_s, args=args, truth=truth)


@dataclass(frozen=True)
class Truth:
    """What the server actually did over the window (nominal values for ``--server stub``)."""

    ttft_ms: float
    itl_ms: float
    late_mean_ms: float
    late_frac: float


def _server_stats(args: argparse.Namespace) -> dict[str, float] | None:
    if args.server != "reference":
        return None
    deadline = time.monotonic() + 5
    while True:
        try:
            stats: dict[str, float] = json.loads(Path(args.stats_file).read_text())
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        return stats


def _truth(
    args: argparse.Namespace, before: dict[str, float] | None, after: dict[str, float] | None
) -> Truth:
    if before is None or after is None:
        nan = float("nan")
        return Truth(args.ttft_ms, args.itl_ms, nan, nan)

    def delta(key: str) -> float:
        return after[key] - before[key]

    firsts, gaps = delta("first_tokens"), delta("gaps")
    if firsts <= 0 or gaps <= 0:
        raise RuntimeError(f"the reference server wrote no tokens in the window: {after}")
    return Truth(
        ttft_ms=delta("ttft_sum_s") / firsts * 1000,
        itl_ms=delta("gap_sum_s") / gaps * 1000,
        late_mean_ms=delta("late_sum_s") / (firsts + gaps) * 1000,
        late_frac=delta("late_over_1ms") / (firsts + gaps),
    )


def _point(
    reader: str,
    n: int,
    rows: list[tuple[float, list[float], float]],
    *,
    cpu_l: list[float],
    cpu_s: list[float],
    args: argparse.Namespace,
    truth: Truth,
) -> Point:
    start = min(s for s, _, _ in rows)
    lo, hi = start + args.warmup_s, start + args.warmup_s + args.duration_s
    window = [(s, t, d) for s, t, d in rows if lo <= s and d <= hi and t]
    ttft = [(t[0] - s) * 1000 for s, t, _ in window]
    itl = [(b - a) * 1000 for _, t, _ in window for a, b in itertools.pairwise(t)]
    busy_s = sum(min(d, hi) - max(s, lo) for s, _, d in rows if d > lo and s < hi)
    tokens = sum(len(t) for s, t, d in rows if lo <= d < hi)
    ttft_mean = statistics.fmean(ttft) if ttft else float("nan")
    itl_mean = statistics.fmean(itl) if itl else float("nan")
    ttft_err = ttft_mean / truth.ttft_ms - 1
    itl_err = itl_mean / truth.itl_ms - 1
    concurrency = busy_s / (hi - lo)
    return Point(
        reader=reader,
        streams=n,
        ttft_truth_ms=round(truth.ttft_ms, 2),
        itl_truth_ms=round(truth.itl_ms, 3),
        requests=len(window),
        ttft_mean_ms=round(ttft_mean, 2),
        ttft_err_frac=round(ttft_err, 4),
        ttft_p99_ms=round(sorted(ttft)[int(0.99 * (len(ttft) - 1))], 1) if ttft else float("nan"),
        itl_mean_ms=round(itl_mean, 3),
        itl_err_frac=round(itl_err, 4),
        concurrency=round(concurrency, 1),
        tokens_per_s=round(tokens / (hi - lo)),
        loadgen_cpu_frac=round(statistics.fmean(cpu_l), 2) if cpu_l else float("nan"),
        server_cpu_frac=round(statistics.fmean(cpu_s), 2) if cpu_s else float("nan"),
        load_avg=round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else float("nan"),
        server_late_mean_ms=round(truth.late_mean_ms, 2),
        server_late_frac=round(truth.late_frac, 4),
        sustained=abs(ttft_err) <= TOLERANCE_FRAC
        and abs(itl_err) <= TOLERANCE_FRAC
        and concurrency >= 0.95 * n,
    )


def _machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}; load average {load:.1f} at start"
    )


def _table(points: list[Point]) -> str:
    head = (
        "| reader | streams | server TTFT / ITL ms | server late: mean ms, > 1 ms | "
        "TTFT mean ms (err) | TTFT p99 ms | ITL mean ms (err) | concurrency | tokens/s | "
        "loadgen CPU | server CPU | load avg | within 5 % |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|\n"
    )
    rows = [
        f"| {p.reader} | {p.streams} | {p.ttft_truth_ms:.1f} / {p.itl_truth_ms:.2f} | "
        f"{p.server_late_mean_ms:.2f}, {p.server_late_frac:.1%} | "
        f"{p.ttft_mean_ms:.1f} ({p.ttft_err_frac:+.1%}) | "
        f"{p.ttft_p99_ms:.0f} | {p.itl_mean_ms:.2f} ({p.itl_err_frac:+.1%}) | {p.concurrency:.0f} "
        f"| {p.tokens_per_s:,} | {p.loadgen_cpu_frac:.0%} | {p.server_cpu_frac:.0%} | "
        f"{p.load_avg:.1f} | {'yes' if p.sustained else 'no'} |"
        for p in points
    ]
    return head + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ttft-ms", type=float, default=200.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per stream")
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--streams", default="100,500,1000,2000")
    parser.add_argument("--server", choices=("reference", "stub"), default="reference")
    parser.add_argument("--warmup-s", type=float, default=6.0)
    parser.add_argument("--duration-s", type=float, default=15.0)
    parser.add_argument("--ramp-s", type=float, default=3.0, help="spawn all users within")
    parser.add_argument("--out", default="", help="also write the points as JSON here")
    args = parser.parse_args()
    readers = [r for r in args.readers.split(",") if r]
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        parser.error(f"unknown readers {unknown}; known: {', '.join(READERS)}")
    cores = _cores()
    work = Path(tempfile.mkdtemp(prefix="loadgen-fidelity-server-"))
    args.stats_file = work / "server-stats.json"
    print(f"machine: {_machine()}; pinned: {cores is not None}", flush=True)
    server, url = _start_server(args, cores)
    points = []
    try:
        for reader in readers:
            for n in (int(x) for x in args.streams.split(",")):
                point = _measure(reader, n, url, server, args=args, cores=cores)
                print(json.dumps(asdict(point)), flush=True)
                points.append(point)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(_table(points))
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(p) for p in points], indent=2) + "\n")


if __name__ == "__main__":
    main()
