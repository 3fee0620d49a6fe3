"""``make demo`` (``python -m surgebench.demo``): a viral surge with a replica failure, end to end.

In about two minutes on a 2-core machine: a time-compressed viral surge (the ``failover``
preset: baseline, ramp to 3x, hold, replica 0 killed mid-surge, restored, back to baseline)
against a 2-replica stub with its autoscaler on, Locust headless, then the analysis. It writes
``results/demo/`` (report.html, summary.json, ci-summary.md, junit.xml and the records) and
prints the headline: sustainable load per replica, replicas needed for the surge with N+1,
time to recover from the failure, and where the report is.

The admin token the profile uses to kill the replica is generated here, handed to the stub
and to Locust through the environment only, and never written anywhere.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from surgebench.exit_code import ExitCode, MissingPartError, UsageError
from surgebench.locust_command import LOCUSTFILES_DIR, PROFILES_DIR
from surgebench.orchestrate import RunPlan, RunResult, execute
from surgebench.run_options import RunOptions, build_plan
from surgebench.stub_process import resolved_stub_config

OUT_DIR = Path("results/demo")
TOKEN_ENV = "SURGEBENCH_ADMIN_TOKEN"
SLO = "ttft_p95_ms=500,tpot_p95_ms=50,error_max_frac=0.01"
TIME_SCALE = 8.0  # 848 s of profile time -> 106 s of run time

# The surge, in profile seconds (compressed by TIME_SCALE); replica 0 dies mid-surge.
PROFILE_PARAMS: Mapping[str, Any] = {
    "baseline": 24,
    "multiplier": 3,
    "baseline_s": 64,
    "ramp_s": 96,
    "surge_s": 160,
    # Long enough (50 s of run time) for the autoscaler's replacement to come up and for the
    # SLO to hold again for analysis's 30 s recovery window before the replica is restored.
    "failover_s": 400,
    "recovery_s": 64,
    "after_s": 64,
    "replica": 0,
    "kill_mode": "error",
    "token_env": TOKEN_ENV,
}
# The emulated fleet: H100s serving Llama-3.1-8B with a small batch limit, so that a few
# dozen streams saturate a replica and two cores can drive the surge. The autoscaler's
# delays are real seconds (they are not compressed with the profile).
STUB_ARGS: tuple[str, ...] = (
    "--preset=h100-llama3-8b",
    "--replicas=2",
    "--max-num-seqs=24",
    "--stream-interval=4",
    f"--admin-token-env={TOKEN_ENV}",
    "--autoscale",
    "--min-replicas=2",
    "--max-replicas=3",
    "--scale-window-s=3",
    "--provisioning-delay-s=10",
    "--scale-cooldown-s=60",
)
LOCUST_ARGS: tuple[str, ...] = (
    "--prompt-tokens",
    "lognormal:400,0.4",
    "--output-tokens",
    "lognormal:160,0.4",
)


def missing_parts() -> list[str]:
    """What the demo needs that is not there yet (empty when everything is in place)."""
    missing = []
    if not (LOCUSTFILES_DIR / "chat.py").is_file():
        missing.append("locustfiles/chat.py (the Locust users)")
    if not (PROFILES_DIR / "failover.py").is_file():
        missing.append("profiles/failover.py (the surge-with-failure profile)")
    try:
        resolved_stub_config(STUB_ARGS, env={TOKEN_ENV: "probe"})
    except (UsageError, MissingPartError) as err:
        missing.append(f"the stub's fleet options (autoscaler, admin API): {err}")
    probe = subprocess.run(
        [sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        missing.append("the analysis CLI (python -m analysis)")
    return missing


def demo_plan(out_dir: Path) -> RunPlan:
    plan, _, _ = build_plan(
        RunOptions(
            profile="failover",
            target="stub",
            out=out_dir,
            slo=SLO,
            time_scale=TIME_SCALE,
            seed=7,
            params=tuple(f"{key}={value}" for key, value in PROFILE_PARAMS.items()),
            stub_args=STUB_ARGS,
            locust_args=LOCUST_ARGS,
            ci=True,
        )
    )
    # A fresh random token per demo, in the children's environment only.
    return replace(plan, env={TOKEN_ENV: secrets.token_hex(16)})


def headline(result: RunResult) -> list[str]:
    """The four numbers the demo is for, from summary.json (via the verdict)."""
    from surgebench.ci_report import count_text

    verdict = result.verdict
    report = result.run_dir / "report.html"
    if verdict is None:
        return [f"no verdict: {result.message}", f"run directory: {result.run_dir}"]
    cap, surges = verdict.capacity, verdict.surges
    lines = [f"verdict: {verdict.headline} (run {verdict.run_id})"]
    if cap:
        low, high = cap.get("per_replica_ci_rps") or (None, None)
        ci = f" (CI {low:.2f}-{high:.2f})" if low is not None and high is not None else ""
        lines.append(
            f"  sustainable load per replica : {cap['per_replica_rps']:.2f} req/s under {SLO}{ci}"
        )
        lines.append(
            f"  replicas for the surge, N+1  : {count_text(cap['replicas_n_plus_1'])} "
            f"(peak {cap['peak_rps']:.1f} req/s, surge x{cap['headroom_multiplier']:.2f} headroom;"
            f" normal peak {count_text(cap['replicas_normal'])})"
        )
    else:
        lines.append("  capacity: no plan (" + str(verdict.raw.get("capacity_note")) + ")")
    failure = next((s for s in surges if "kill" in str(s.get("kind", ""))), None)
    failure = failure or next((s for s in surges if s.get("label") == "failover"), None)
    if failure is not None:
        recover = failure.get("time_to_recover_s")
        if failure.get("onset_to_violation_s") is None and failure.get("recovered"):
            text = "0 s: the SLO held through the failure"
        elif isinstance(recover, (int, float)):
            text = f"{recover:.0f} s after replica 0 failed (SLO met again for a sustained window)"
        else:
            text = "not within the run (see the surge timeline in the report)"
        lines.append(f"  time to recover              : {text}")
    else:
        lines.append("  time to recover              : no failure event found in the run")
    for event in fired_events(result.run_dir):
        if not event.get("ok"):
            lines.append(f"  caution: event {event.get('kind')} failed: {event.get('detail')}")
    for reason in verdict.invalid_reasons if not verdict.valid else ():
        lines.append(f"  caution: {reason}")
    lines.append(f"  report                       : {report.resolve()}")
    return lines


def fired_events(run_dir: Path) -> list[dict[str, Any]]:
    """``events.jsonl`` (written by the profile's shape when it fires an admin call)."""
    try:
        text = (run_dir / "events.jsonl").read_text("utf-8")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def main() -> int:
    missing = missing_parts()
    if missing:
        print("surgebench demo: not every part is built yet; missing:", file=sys.stderr)
        for part in missing:
            print(f"  - {part}", file=sys.stderr)
        return int(ExitCode.USAGE)
    if OUT_DIR.exists():
        # The demo's own output from an earlier `make demo`: replaced, runs elsewhere are kept.
        shutil.rmtree(OUT_DIR)
    plan = demo_plan(OUT_DIR)
    print(
        "surgebench demo: a viral surge to 3x, compressed 8x, on a 2-replica emulated H100 fleet "
        "(Llama-3.1-8B, autoscaler on: 2-3 replicas, 10 s cold start); replica 0 is killed "
        f"mid-surge. {plan.total_s or 0:.0f} s of load, results in {OUT_DIR}",
        file=sys.stderr,
    )
    result = execute(plan)
    print()
    for line in headline(result):
        print(line)
    # The demo succeeded when it produced its answers, whatever the SLO verdict.
    return int(ExitCode.OK) if result.verdict is not None else int(result.exit_code)


if __name__ == "__main__":
    sys.exit(main())
