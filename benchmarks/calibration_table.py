"""Print the calibration tables of docs/CALIBRATION.md (markdown, to stdout).

Usage (from the repository root)::

    .venv/bin/python benchmarks/calibration_table.py

Runs every case of tests/calibration/cases.py in simulated time -- the same code the
calibration tests assert on -- and prints three tables: the residuals (published value,
ours, residual in % of the published value), the cases (source, workload, knobs), and the
preset coefficients as they are in target_stub/engine_config.py. Writes no file; the
simulation time goes to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

_COEFFICIENTS = (
    ("t_ovh_ms", "t_ovh (ms)"),
    ("t_w_ms", "t_w (ms)"),
    ("c_tok_ms", "c_tok (ms/token)"),
    ("kv_ns", "kv (ns/context token)"),
    ("c_seq_ms", "c_seq (ms/sequence)"),
    ("attn_coef_ms", "attn (ms/token^2)"),
    ("comm_base_ms", "comm base (ms)"),
    ("comm_per_tok_ms", "comm (ms/token)"),
    ("kv_capacity_tokens", "KV capacity (tokens)"),
    ("frontend_ms", "frontend (ms)"),
)
_PRESETS = ("h100-llama3-8b", "h100-llama3-70b-tp4", "h100-llama3-70b-fp8-tp2")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.calibration
    from target_stub.engine_config import engine_preset
    from tests.calibration.cases import CASES, residual_pct, run_case

    started = time.perf_counter()
    print("| case | metric | published | ours | residual |")
    print("|---|---|---:|---:|---:|")
    for case in CASES:
        ours = run_case(case)
        for metric, published in case.published.items():
            note = case.notes.get(metric)
            shown = _number(published) + (f" ({note})" if note else "")
            print(
                f"| {case.label} | {metric} | {shown} | {_number(ours[metric])} "
                f"| {residual_pct(ours[metric], published):+.1f}% |"
            )
    elapsed_s = time.perf_counter() - started
    print()
    print("| case | source | workload | knobs |")
    print("|---|---|---|---|")
    for case in CASES:
        print(f"| {case.key} | {case.source} | {case.workload} | {case.knobs} |")
    print()
    print("| coefficient | " + " | ".join(_PRESETS) + " |")
    print("|---|" + "---:|" * len(_PRESETS))
    configs = [engine_preset(name) for name in _PRESETS]
    for field, label in _COEFFICIENTS:
        values = [getattr(config, field) for config in configs]
        print(f"| {label} | " + " | ".join(f"{v:,.6g}" for v in values) + " |")
    print(f"({len(CASES)} cases simulated in {elapsed_s:.1f} s)", file=sys.stderr)


def _number(value: float) -> str:
    """4 significant digits, but whole numbers with thousands separators from 1,000 up."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


if __name__ == "__main__":
    main()
