"""``manifest.json``: written by the master (or only) Locust process at start, finalised at stop.

Fields (docs/ARCHITECTURE.md is the contract; ``analysis.schema.Manifest`` reads it):
``schema_version``, ``run_id``, ``started_at`` (ISO-8601 UTC), ``t0_epoch_s`` (epoch seconds of
run time 0), ``finished_at`` (null while running or after a crash), ``git_sha``, ``versions``,
``profile`` ({name, mode, seed, time_scale, params, stages} or null), ``stages`` (run-time
boundaries), ``target`` ({url, kind, model}; never the API key; headers by name only),
``stub_config`` (null: the generator does not query it), ``slo`` ({"<metric>_p95_ms": ms}),
``workload`` (the options that shaped the requests), ``loadgen`` ({processes, cpu_max_frac,
cpu_mean_frac, schedule_lag_p99_ms, dropped, warnings}), ``validity`` ({client_limited,
reasons}). Written atomically (temporary file + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from locustfiles.options import LoadOptions
from locustfiles.records import SCHEMA_VERSION

MANIFEST_NAME = "manifest.json"


def iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_sha(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def profile_section(profile: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``(profile, stages)`` from a ``profiles.base.Profile`` (None: no profile shape)."""
    if profile is None:
        return None, []
    stages = [asdict(b) for b in profile.boundaries()]
    return dict(profile.manifest_entry()), stages


def build_manifest(
    *,
    run_id: str,
    t0_epoch_s: float,
    options: LoadOptions,
    model: str | None,
    target_url: str,
    image_url: str | None = None,
    target_kind: str,
    profile: Any,
    processes: int,
) -> dict[str, Any]:
    described, stages = profile_section(profile)
    workload = options.workload
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "started_at": iso_utc(t0_epoch_s),
        "t0_epoch_s": t0_epoch_s,
        "finished_at": None,
        "git_sha": git_sha(),
        "versions": {
            "surgebench": _version("surgebench"),
            "locust": _version("locust"),
            "gevent": _version("gevent"),
            "python": platform.python_version(),
        },
        "profile": described,
        "stages": stages,
        "target": {
            "url": target_url,
            "kind": target_kind,
            "model": model,
            "api_key_env": options.api_key_env or None,
            "extra_header_names": [name for name, _ in options.extra_headers],
            "image_url": image_url,
        },
        "stub_config": None,
        "slo": dict(options.slo_ms),
        "workload": {
            "arrival": options.arrival,
            "rate_rps": options.rate_rps if options.open_loop else None,
            "arrival_cv": options.arrival_cv if options.arrival == "gamma" else None,
            "max_in_flight": options.max_in_flight,
            "stream": options.stream,
            "ignore_eos": options.ignore_eos,
            "prompt_tokens": str(workload.prompt_tokens),
            "output_tokens": str(workload.output_tokens),
            "system_prompt_tokens": workload.system_prompt_tokens,
            "turns": str(workload.turns),
            "think_time_s": str(options.think_time_s),
            "max_context_tokens": workload.max_context_tokens,
            "tiers": [asdict(t) for t in workload.tiers],
            "prompt_file": workload.prompt_file,
            "retry": options.retry.mode,
            "max_retries": options.retry.max_retries,
            "abandon_after_s": options.abandon.abandon_after_s,
            "request_timeout_s": options.request_timeout_s,
            "seed": options.seed,
        },
        "loadgen": {
            "processes": processes,
            "cpu_max_frac": None,
            "cpu_mean_frac": None,
            "schedule_lag_p99_ms": None,
            "dropped": 0,
            "warnings": [],
        },
        "validity": {"client_limited": False, "reasons": []},
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{run_dir / MANIFEST_NAME} is not a JSON object")
    return data
