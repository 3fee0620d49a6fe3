from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from surgebench.progress import ProgressPrinter, RunTail


def _record(t_sent_s: float, ttft_s: float | None, t_done_s: float, kind: str | None = None) -> str:
    return json.dumps(
        {
            "t_sent_s": t_sent_s,
            "t_first_token_s": None if ttft_s is None else t_sent_s + ttft_s,
            "t_done_s": t_done_s,
            "error_kind": kind,
        }
    )


def _run_dir(tmp_path: Path, t0_epoch_s: float) -> Path:
    (tmp_path / "requests").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"t0_epoch_s": t0_epoch_s}), "utf-8")
    (tmp_path / "offered.csv").write_text(
        "t_s,stage,target_users,target_rps,actual_users\n0,base,10,,10\n1,surge,40,,38\n", "utf-8"
    )
    return tmp_path


def test_live_numbers_from_the_files(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, t0_epoch_s=1000.0)
    lines = [_record(t, 0.1 * (i + 1), t + 1.0) for i, t in enumerate(range(10))]
    lines.append(_record(3.0, None, 3.5, kind="status"))
    lines.append(_record(4.0, None, 4.0, kind="dropped"))
    (run_dir / "requests" / "local.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    snap = RunTail(run_dir, window_s=10.0).poll(total_s=60.0, now_epoch_s=1011.0)
    assert snap.elapsed_s == pytest.approx(11.0)
    assert (snap.completed, snap.errors, snap.dropped) == (10, 1, 1)
    assert snap.stage == "surge" and snap.offered == "40 users (38 running)"
    # Completed in the last 10 s (t_done >= 1): all 10; TTFTs 100..1000 ms, p95 by interpolation.
    assert snap.achieved_rps == pytest.approx(1.0)
    assert snap.ttft_p95_ms == pytest.approx(955.0)
    text = snap.render()
    assert "[surge]" in text and "11/60s" in text and "p95 TTFT 955 ms" in text


def test_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, t0_epoch_s=0.0)
    path = run_dir / "requests" / "worker-1.jsonl"
    full = _record(0.0, 0.2, 1.0)
    path.write_text(full + "\n" + full[:10], "utf-8")
    tail = RunTail(run_dir)
    assert tail.poll(now_epoch_s=2.0).completed == 1
    with path.open("a", encoding="utf-8") as handle:
        handle.write(full[10:] + "\n")
    assert tail.poll(now_epoch_s=2.0).completed == 2


def test_records_leave_the_window(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, t0_epoch_s=0.0)
    (run_dir / "requests" / "local.jsonl").write_text(_record(0.0, 0.05, 1.0) + "\n", "utf-8")
    snap = RunTail(run_dir, window_s=5.0).poll(now_epoch_s=30.0)
    assert snap.completed == 1 and snap.achieved_rps == 0.0 and snap.ttft_p95_ms is None


def test_printer_writes_lines_when_not_a_terminal(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, t0_epoch_s=0.0)
    out = io.StringIO()
    printer = ProgressPrinter(out, every_s=0.0)
    printer.show(RunTail(run_dir).poll(now_epoch_s=1.0))
    printer.finish()
    assert out.getvalue().count("\n") == 1 and "\r" not in out.getvalue()
