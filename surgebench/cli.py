"""``surgebench``: one command from profile to verdict (console script ``surgebench.cli:main``).

Commands: ``run``, ``report``, ``compare``, ``plan``, ``stub``, ``ui``, ``worker``, ``gather``,
``profiles``. Exit codes (surgebench.exit_code): 0 SLO met, 1 SLO breached (or, for
``compare``, a regression), 2 run invalid, 3 usage or configuration error. Click's own
usage errors (exit 2 by default) are remapped to 3 so that 2 always means "run invalid".
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from surgebench.exit_code import ExitCode, MissingPartError, UsageError

app = typer.Typer(
    name="surgebench",
    help="Load-test LLM inference services: surge profiles, exact latency, capacity plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}

# Capacity-plan options shared by run, report and plan (analysis/capacity.py).
PeakOpt = Annotated[
    float | None, typer.Option(help="normal peak req/s to plan for (default: the run's)")
]
SurgeOpt = Annotated[
    str | None, typer.Option(help="surge multiplier, e.g. 10x (default: the profile's)")
]
RampOpt = Annotated[float | None, typer.Option(help="minutes the surge takes to ramp up")]
ReactOpt = Annotated[
    float | None, typer.Option(help="seconds to detect the surge and add serving capacity")
]
PriceOpt = Annotated[float | None, typer.Option(help="price of one GPU-hour")]
GpusOpt = Annotated[int | None, typer.Option(help="GPUs per replica (default: the stub's)")]


@app.command(context_settings=_PASS_THROUGH)
def run(
    ctx: typer.Context,
    *,
    profile: Annotated[
        str, typer.Option(help="preset name (see `surgebench profiles`) or a .toml file")
    ],
    out: Annotated[Path, typer.Option(help="run directory to create (must not hold a run)")],
    target: Annotated[
        str, typer.Option(help="'stub' (started here, loopback) or a base URL")
    ] = "stub",
    slo: Annotated[str | None, typer.Option(help="e.g. ttft_p95_ms=500,tpot_p95_ms=50")] = None,
    processes: Annotated[int, typer.Option(help="Locust processes on this machine")] = 1,
    time_scale: Annotated[float | None, typer.Option(help="compress profile time by X")] = None,
    duration: Annotated[
        float | None, typer.Option(help="compress the profile to last S seconds")
    ] = None,
    replicas: Annotated[int | None, typer.Option(help="stub replicas (--target stub)")] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed for the profile, workload and stub")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="profile parameter NAME=VALUE (repeatable)")
    ] = None,
    locustfile: Annotated[str, typer.Option(help="locustfiles/<NAME>.py or a path")] = "chat",
    model: Annotated[str | None, typer.Option(help="model name (default: the stub's)")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="NAME of the env var holding the API key")
    ] = None,
    stub_preset: Annotated[str | None, typer.Option(help="stub engine preset")] = None,
    stub_arg: Annotated[
        list[str] | None, typer.Option(help="extra argument for the stub (repeatable)")
    ] = None,
    ci: Annotated[bool, typer.Option(help="also write ci-summary.md and junit.xml")] = False,
    progress: Annotated[bool, typer.Option(help="show live progress on stderr")] = True,
    grace: Annotated[float, typer.Option(help="seconds Locust gets to stop on Ctrl-C")] = 30.0,
    expect_workers: Annotated[
        int, typer.Option(help="> 0: be a Locust master and wait for N `surgebench worker`s")
    ] = 0,
    master_bind_host: Annotated[
        str, typer.Option(help="interface the master listens on for workers")
    ] = "*",
    master_bind_port: Annotated[int, typer.Option(help="port the master listens on")] = 5557,
    peak_rps: PeakOpt = None,
    surge: SurgeOpt = None,
    ramp_min: RampOpt = None,
    reaction_s: ReactOpt = None,
    price_per_gpu_hour: PriceOpt = None,
    gpus_per_replica: GpusOpt = None,
    metrics_url: Annotated[
        str | None, typer.Option(help="Prometheus /metrics to record (default: the stub's)")
    ] = None,
    scrape_metrics: Annotated[
        bool, typer.Option(help="record server metrics into server_metrics.jsonl")
    ] = True,
) -> None:
    """Run a profile against the stub or a URL, analyse it, and exit with the verdict.

    Arguments after `--` go to Locust verbatim (e.g. `-- --arrival poisson --max-in-flight 50`).
    """
    from surgebench.capacity_plan import CapacityOptions
    from surgebench.orchestrate import execute
    from surgebench.run_options import RunOptions, build_plan
    from surgebench.verdict_text import print_run_result

    opts = RunOptions(
        profile=profile,
        target=target,
        out=out,
        slo=slo,
        processes=processes,
        time_scale=time_scale,
        duration_s=duration,
        replicas=replicas,
        seed=seed,
        params=tuple(param or ()),
        locustfile=locustfile,
        model=model,
        api_key_env=api_key_env,
        stub_preset=stub_preset,
        stub_args=tuple(stub_arg or ()),
        locust_args=tuple(ctx.args),
        ci=ci,
        show_progress=progress,
        grace_s=grace,
        expect_workers=expect_workers,
        master_bind_host=master_bind_host,
        master_bind_port=master_bind_port,
        metrics_url=metrics_url,
        scrape_metrics=scrape_metrics,
        capacity=CapacityOptions.from_cli(
            peak_rps=peak_rps,
            surge=surge,
            ramp_min=ramp_min,
            reaction_s=reaction_s,
            price_per_gpu_hour=price_per_gpu_hour,
            gpus_per_replica=gpus_per_replica,
        ),
    )
    plan, built, _ = build_plan(opts)
    print(
        f"surgebench: profile {built.name} ({built.mode}, {built.duration_s:.0f} s at time scale "
        f"{built.time_scale:g}) -> {plan.target.url or 'stub'}; results in {plan.out_dir}",
        file=sys.stderr,
    )
    result = execute(plan)
    raise typer.Exit(print_run_result(result))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    *,
    slo: Annotated[str | None, typer.Option(help="e.g. ttft_p95_ms=500,tpot_p95_ms=50")] = None,
    ci: Annotated[bool, typer.Option(help="also write ci-summary.md and junit.xml")] = False,
    peak_rps: PeakOpt = None,
    surge: SurgeOpt = None,
    ramp_min: RampOpt = None,
    reaction_s: ReactOpt = None,
    price_per_gpu_hour: PriceOpt = None,
    gpus_per_replica: GpusOpt = None,
) -> None:
    """(Re)build DIR/report.html and DIR/summary.json; exit with the run's verdict."""
    from surgebench.capacity_plan import CapacityOptions
    from surgebench.options import parse_slo
    from surgebench.orchestrate import analyse
    from surgebench.verdict_text import print_run_result

    _require_dir(run_dir)
    capacity = CapacityOptions.from_cli(
        peak_rps=peak_rps,
        surge=surge,
        ramp_min=ramp_min,
        reaction_s=reaction_s,
        price_per_gpu_hour=price_per_gpu_hour,
        gpus_per_replica=gpus_per_replica,
    )
    raise typer.Exit(print_run_result(analyse(run_dir, parse_slo(slo), capacity, ci=ci)))


@app.command(context_settings=_PASS_THROUGH)
def compare(
    ctx: typer.Context,
    base: Annotated[Path, typer.Argument(help="baseline run directory")],
    new: Annotated[Path, typer.Argument(help="new run directory")],
) -> None:
    """Regression verdict of NEW against BASE; exit 1 on a regression.

    Further options go to `python -m analysis compare` (thresholds).
    """
    from surgebench.comparison import compare_runs

    _require_dir(base)
    _require_dir(new)
    raise typer.Exit(compare_runs(base, new, tuple(ctx.args)))


@app.command()
def plan(
    run_dirs: Annotated[list[Path], typer.Argument(help="one or more run directories")],
    *,
    peak_rps: Annotated[float, typer.Option(help="normal peak load to plan for, req/s")],
    surge: Annotated[str, typer.Option(help="surge multiplier, e.g. 10x")] = "2x",
    ramp_min: Annotated[float, typer.Option(help="minutes the surge takes to ramp up")] = 30.0,
    reaction_s: ReactOpt = None,
    price_per_gpu_hour: PriceOpt = None,
    gpus_per_replica: GpusOpt = None,
    slo: Annotated[str | None, typer.Option(help="e.g. ttft_p95_ms=500,tpot_p95_ms=50")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the plan as JSON")
    ] = None,
) -> None:
    """Capacity recommendation (replicas, GPUs, cost) from measured runs.

    Runs at different replica counts give the measured scaling efficiency.
    """
    from surgebench.capacity_plan import CapacityOptions, print_plan

    for run_dir in run_dirs:
        _require_dir(run_dir)
    capacity = CapacityOptions.from_cli(
        peak_rps=peak_rps,
        surge=surge,
        ramp_min=ramp_min,
        reaction_s=reaction_s,
        price_per_gpu_hour=price_per_gpu_hour,
        gpus_per_replica=gpus_per_replica,
    )
    raise typer.Exit(print_plan(tuple(run_dirs), capacity, slo, json_out))


@app.command(context_settings={**_PASS_THROUGH, "help_option_names": []})
def stub(ctx: typer.Context) -> None:
    """The stub: exactly `python -m target_stub ARGS` (try `surgebench stub --help`)."""
    argv = [sys.executable, "-m", "target_stub", *ctx.args]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@app.command(context_settings=_PASS_THROUGH)
def ui(
    ctx: typer.Context,
    *,
    target: Annotated[str, typer.Option(help="'stub' (started here) or a base URL")] = "stub",
    web_port: Annotated[int, typer.Option(help="Locust web UI port (0: any free)")] = 8089,
    out: Annotated[
        Path | None, typer.Option(help="run directory (default: results/<run_id> per run)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="model name (default: the stub's)")] = None,
    locustfile: Annotated[str, typer.Option(help="locustfiles/<NAME>.py or a path")] = "chat",
    replicas: Annotated[int | None, typer.Option(help="stub replicas (--target stub)")] = None,
    stub_preset: Annotated[str | None, typer.Option(help="stub engine preset")] = None,
    stub_arg: Annotated[list[str] | None, typer.Option(help="extra stub argument")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="NAME of the API key env var")] = None,
) -> None:
    """The stub plus Locust's web UI with every profile selectable (loopback only).

    Arguments after `--` go to Locust verbatim.
    """
    from surgebench.web_ui import UiOptions, serve_ui

    opts = UiOptions(
        target=target,
        web_port=web_port,
        run_dir=out,
        model=model,
        locustfile=locustfile,
        replicas=replicas,
        stub_preset=stub_preset,
        stub_args=tuple(stub_arg or ()),
        api_key_env=api_key_env,
        locust_args=tuple(ctx.args),
    )
    raise typer.Exit(serve_ui(opts))


@app.command(context_settings=_PASS_THROUGH)
def worker(
    ctx: typer.Context,
    *,
    profile: Annotated[str, typer.Option(help="the master's --profile (for its shape file)")],
    master_host: Annotated[str, typer.Option(help="host of `surgebench run --expect-workers`")],
    master_port: Annotated[int, typer.Option(help="the master's --master-bind-port")] = 5557,
    processes: Annotated[int, typer.Option(help="Locust worker processes on this machine")] = 1,
    locustfile: Annotated[str, typer.Option(help="the master's --locustfile")] = "chat",
) -> None:
    """A Locust worker for a distributed run (docs/distributed.md); options come from the master.

    Arguments after `--` go to Locust verbatim.
    """
    from surgebench.distributed import run_worker

    raise typer.Exit(
        run_worker(
            profile=profile,
            master_host=master_host,
            master_port=master_port,
            processes=processes,
            locustfile=locustfile,
            extra=tuple(ctx.args),
        )
    )


@app.command()
def gather(
    run_dir: Annotated[Path, typer.Argument(help="the master's run directory")],
    sources: Annotated[list[Path], typer.Argument(help="run directories copied from workers")],
) -> None:
    """Merge worker records (SOURCE/requests/*.jsonl) into RUN_DIR/requests/."""
    from surgebench.record_gathering import gather_records

    _require_dir(run_dir)
    for source in sources:
        _require_dir(source)
    copied = gather_records(run_dir, tuple(sources))
    for line in copied:
        print(line)
    print(f"gathered {len(copied)} record file(s) into {run_dir / 'requests'}")


@app.command(name="profiles")
def list_profiles() -> None:
    """List the profile presets with their durations."""
    import profiles as profile_presets

    for name in profile_presets.available():
        built = profile_presets.load(name)
        print(f"{name:10s} {built.mode:5s} {built.duration_s:9.0f} s  {built.description}")


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory (expected a run directory)")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _fail(message: str, code: ExitCode) -> NoReturn:
    print(f"surgebench: error: {message}", file=sys.stderr)
    sys.exit(int(code))


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: runs the Typer app and maps every error to its exit code."""
    logging.basicConfig(level=logging.WARNING, format="surgebench: %(levelname)s %(message)s")
    # A CI timeout or `kill` sends SIGTERM: stop the children as cleanly as on Ctrl-C
    # (they run in their own sessions and would otherwise be orphaned).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Started in the background by a shell, SIGINT arrives ignored, and an ignored signal
    # stays ignored in every child: Locust would then never see our SIGINT. A handler (not
    # SIG_IGN) is reset to the default on exec, so the children get a working SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # standalone_mode=False: Click returns the code of typer.Exit instead of exiting,
        # and raises its usage errors, so they can be remapped to 3.
        code = app(args=argv, prog_name="surgebench", standalone_mode=False)
    except UsageError as err:
        _fail(str(err), ExitCode.USAGE)
    except MissingPartError as err:
        _fail(f"{err} (this part of surgebench is missing or not built)", ExitCode.USAGE)
    except typer.TyperException as err:  # Click's bad or missing option: usage error, exit 3
        show = getattr(err, "show", None)
        if callable(show):
            show()
        else:
            print(f"surgebench: error: {err}", file=sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    except typer.Abort:
        _fail("aborted", ExitCode.USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.USAGE)
    sys.exit(code if isinstance(code, int) else 0)
