"""Command line: ``python -m analysis report RUN_DIR`` and ``python -m analysis compare BASE NEW``.

Exit codes, report: 0 the SLO is met, 1 the SLO is breached, 2 the run is invalid
(client-limited, too few samples, no per-request records), 3 usage or input error (bad
option value, unreadable run directory, unsupported schema version).
Exit codes, compare: 0 no regression, 1 regression, 2 either run invalid, 3 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Final

from analysis.capacity import CapacityInputs
from analysis.compare import Thresholds, compare_summaries
from analysis.io import RunDirectoryError, load_run
from analysis.pipeline import AnalysisOptions, analyse
from analysis.report import write_report
from analysis.slo import parse_slo
from analysis.summary import build_summary

EXIT_OK: Final = 0
EXIT_BREACH: Final = 1
EXIT_INVALID: Final = 2
EXIT_USAGE: Final = 3
_VERDICT_EXIT: Final = {"pass": EXIT_OK, "fail": EXIT_BREACH, "invalid": EXIT_INVALID}
_COMPARE_EXIT: Final = {
    "no_change": EXIT_OK,
    "improvement": EXIT_OK,
    "regression": EXIT_BREACH,
    "invalid": EXIT_INVALID,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m analysis", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser("report", help="write report.html and summary.json for a run")
    rep.add_argument("run_dir")
    rep.add_argument("--out", help="output directory (default: RUN_DIR)")
    rep.add_argument("--slo", help="e.g. ttft_p95_ms=500,tpot_p95_ms=50[,error_max_frac=0.01]")
    rep.add_argument("--peak-rps", type=_positive, help="normal peak req/s for the plan")
    rep.add_argument("--utilisation", type=_positive, default=0.85, help="target u (0-1]")
    rep.add_argument("--surge-multiplier", type=_positive, default=2.0, help="M (>= 1)")
    rep.add_argument("--surge-ramp-s", type=float, default=1800.0, help="T_ramp, s (0 = step)")
    rep.add_argument("--react-s", type=float, default=300.0, help="T_react, s")
    rep.add_argument("--gpus-per-replica", type=int, default=1)
    rep.add_argument("--gpu-price", type=_positive, help="price per GPU-hour")
    rep.add_argument("--replicas-in-run", type=int, help="replicas behind the target")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    rep.add_argument("--n-boot", type=int, default=500, help="bootstrap replicates")
    cmp_ = sub.add_parser("compare", help="regression verdict between two runs")
    cmp_.add_argument("base_dir")
    cmp_.add_argument("new_dir")
    cmp_.add_argument("--slo", help="SLO for both runs (default: each run's own)")
    cmp_.add_argument("--latency-increase", type=_positive, default=0.10, help="fraction")
    cmp_.add_argument("--throughput-decrease", type=_positive, default=0.05, help="fraction")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def _report(args: argparse.Namespace) -> int:
    slo = parse_slo(args.slo) if args.slo else None
    capacity = CapacityInputs(
        peak_rps=args.peak_rps or 0.0,
        utilisation_frac=args.utilisation,
        surge_multiplier=args.surge_multiplier,
        surge_ramp_s=args.surge_ramp_s,
        react_s=args.react_s,
        gpus_per_replica=args.gpus_per_replica,
        price_per_gpu_hour=args.gpu_price,
    )
    options = AnalysisOptions(
        slo=slo, peak_rps=args.peak_rps, capacity=capacity,
        replicas_in_run=args.replicas_in_run, seed=args.seed, n_boot=args.n_boot,
    )  # fmt: skip
    result = write_report(args.run_dir, options, args.out)
    s = result.summary
    sat = s.saturation
    print(f"verdict: {s.verdict}  ({s.run_id})")
    if sat is not None and sat.max_sustainable_rps is not None:
        print(
            f"max sustainable: {sat.max_sustainable_rps:.4g} req/s "
            f"(CI {sat.ci_low_rps or 0:.4g}-{sat.ci_high_rps or 0:.4g}), status {sat.status}"
        )
    for reason in s.validity.reasons:
        print(f"invalid: {reason}")
    print(f"wrote {result.report_path} and {result.summary_path}")
    return _VERDICT_EXIT[s.verdict]


def _compare(args: argparse.Namespace) -> int:
    options = AnalysisOptions(slo=parse_slo(args.slo) if args.slo else None)
    base = build_summary(analyse(load_run(args.base_dir), options))
    new = build_summary(analyse(load_run(args.new_dir), options))
    thresholds = Thresholds(
        latency_increase_frac=args.latency_increase,
        throughput_decrease_frac=args.throughput_decrease,
    )
    result = compare_summaries(base, new, thresholds)
    print(f"verdict: {result.verdict}")
    for row in result.rows:
        if row.regression or row.improvement:
            tag = "REGRESSION" if row.regression else "improved"
            change = f"{row.change_frac:+.1%}" if row.change_frac is not None else ""
            print(f"  {tag}: {row.scope} {row.metric}: {row.base:.4g} -> {row.new:.4g} {change}")
    for reason in result.reasons:
        print(f"  invalid: {reason}")
    return _COMPARE_EXIT[result.verdict]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        return _report(args) if args.command == "report" else _compare(args)
    except (RunDirectoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
