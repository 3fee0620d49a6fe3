"""``surgebench run`` options -> a validated :class:`~surgebench.orchestrate.RunPlan`.

Validation happens here, once, before anything starts: a bad profile, parameter, SLO,
target or count is a UsageError (exit 3) naming the value and the allowed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import profiles
from profiles.base import Profile, ProfileError
from profiles.overrides import parse_params as parse_override_params
from surgebench.capacity_plan import CapacityOptions, profile_surge_defaults
from surgebench.exit_code import UsageError
from surgebench.locust_command import LocustSpec, free_loopback_port, locustfile_path
from surgebench.options import (
    check_env_name,
    check_positive,
    parse_slo,
    parse_target,
)
from surgebench.orchestrate import RunPlan
from surgebench.shape_args import ShapeChoice, shape_choice

# How long a closed-loop user may take to finish its request when the profile lowers the
# user count (locust_command.LocustSpec.stop_timeout_s); longer than a typical E2E.
CLOSED_LOOP_STOP_TIMEOUT_S = 10.0
# Parameters that have their own option (so --param cannot contradict them).
_RESERVED_PARAMS = ("time_scale", "seed")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The raw values of ``surgebench run`` (as typed by the user)."""

    profile: str
    target: str
    out: Path
    slo: str | None = None
    processes: int = 1
    time_scale: float | None = None
    duration_s: float | None = None
    replicas: int | None = None
    seed: int | None = None
    params: tuple[str, ...] = ()
    locustfile: str = "chat"
    model: str | None = None
    api_key_env: str | None = None
    stub_preset: str | None = None
    stub_args: tuple[str, ...] = ()
    locust_args: tuple[str, ...] = ()
    ci: bool = False
    show_progress: bool = True
    grace_s: float = 30.0
    expect_workers: int = 0
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    capacity: CapacityOptions = field(default_factory=CapacityOptions)
    metrics_url: str | None = None
    scrape_metrics: bool = True


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``("multiplier=5", "levels=[1,2]")`` -> ``{"multiplier": 5, "levels": [1, 2]}``.

    Values are read exactly as the Locust shape will read them (JSON when it parses, else
    text; profiles/overrides.py), so the profile checked here is the one Locust runs.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, _ = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"Invalid --param {item!r}; expected NAME=VALUE such as multiplier=5")
        if key in _RESERVED_PARAMS:
            option = "--time-scale or --duration" if key == "time_scale" else "--seed"
            raise UsageError(f"--param {key}=... is not allowed; use {option}")
        try:
            params.update(parse_override_params(item))
        except ProfileError as err:
            raise UsageError(str(err)) from None
    return params


def resolve_profile(
    name: str,
    params: dict[str, Any],
    *,
    time_scale: float | None,
    duration_s: float | None,
    seed: int | None,
) -> Profile:
    """Load the preset with overrides; ``duration_s`` picks the time scale that makes the
    profile last that long (run seconds)."""
    known = profiles.available()
    if name not in known and not (name.endswith(".toml") and Path(name).is_file()):
        raise UsageError(
            f"Unknown profile {name!r}; known: {', '.join(known)} (or a path to a .toml file)"
        )
    if time_scale is not None and duration_s is not None:
        raise UsageError("Give --time-scale or --duration, not both")
    check_positive("--time-scale", time_scale)
    check_positive("--duration", duration_s)
    overrides: dict[str, object] = dict(params)
    if seed is not None:
        overrides["seed"] = seed
    try:
        if duration_s is not None:
            natural = profiles.load(name, **{**overrides, "time_scale": 1.0})
            time_scale = natural.duration_s / duration_s
        if time_scale is not None:
            overrides["time_scale"] = time_scale
        return profiles.load(name, **overrides)
    except ProfileError as err:
        raise UsageError(str(err)) from None


def build_plan(opts: RunOptions) -> tuple[RunPlan, Profile, ShapeChoice]:
    """Validate everything and build the plan (nothing is started here)."""
    target = parse_target(opts.target)
    slo = parse_slo(opts.slo)
    if opts.processes < 1:
        raise UsageError(f"Invalid --processes {opts.processes}; allowed: an integer >= 1")
    if opts.expect_workers < 0:
        raise UsageError(f"Invalid --expect-workers {opts.expect_workers}; allowed: >= 0")
    if opts.expect_workers and opts.processes > 1:
        raise UsageError(
            "--processes and --expect-workers exclude each other: with workers, start "
            "`surgebench worker --processes N` on each worker machine instead"
        )
    if not 1 <= opts.master_bind_port <= 65535:
        raise UsageError(f"Invalid --master-bind-port {opts.master_bind_port}; allowed: 1..65535")
    check_positive("--grace", opts.grace_s)
    api_key_env = check_env_name("--api-key-env", opts.api_key_env)
    if target.kind == "external":
        if opts.replicas is not None or opts.stub_preset or opts.stub_args:
            raise UsageError(
                "--replicas, --stub-preset and --stub-arg apply to --target stub only; "
                f"the target is {target.url}"
            )
        if not opts.model:
            raise UsageError(f"--model is required with an external target ({target.url})")
    if opts.metrics_url is not None and parse_target(opts.metrics_url).kind != "external":
        raise UsageError(f"Invalid --metrics-url {opts.metrics_url!r}; expected an http(s):// URL")
    if opts.replicas is not None and opts.replicas < 1:
        raise UsageError(f"Invalid --replicas {opts.replicas}; allowed: an integer >= 1")
    params = parse_params(opts.params)
    profile = resolve_profile(
        opts.profile,
        params,
        time_scale=opts.time_scale,
        duration_s=opts.duration_s,
        seed=opts.seed,
    )
    choice = shape_choice(opts.profile, params, profile)
    spec = LocustSpec(
        locustfile=locustfile_path(opts.locustfile),
        shape_file=choice.shape_file,
        host=target.url or "",
        run_dir=opts.out.resolve(),
        processes=opts.processes,
        shape_args=choice.argv,
        model=opts.model,
        api_key_env=api_key_env,
        seed=opts.seed,
        slo=slo,
        extra=tuple(opts.locust_args),
        local_master_port=free_loopback_port() if opts.processes > 1 else None,
        stop_timeout_s=CLOSED_LOOP_STOP_TIMEOUT_S if profile.mode == "users" else None,
        target_kind=target.kind,
        expect_workers=opts.expect_workers,
        master_bind_host=opts.master_bind_host,
        master_bind_port=opts.master_bind_port,
    )
    stub_args: list[str] = []
    if opts.stub_preset:
        stub_args += ["--preset", opts.stub_preset]
    if opts.replicas is not None:
        stub_args += ["--replicas", str(opts.replicas)]
    if opts.seed is not None:
        stub_args += ["--seed", str(opts.seed)]
    stub_args += opts.stub_args
    plan = RunPlan(
        target=target,
        out_dir=opts.out.resolve(),
        locust=spec,
        total_s=profile.duration_s,
        slo=slo,
        stub_args=tuple(stub_args),
        capacity=opts.capacity.with_defaults(
            **profile_surge_defaults(choice.builder, profile.params)
        ),
        metrics_url=opts.metrics_url,
        scrape_metrics=opts.scrape_metrics,
        ci=opts.ci,
        show_progress=opts.show_progress,
        grace_s=opts.grace_s,
    )
    return plan, profile, choice
