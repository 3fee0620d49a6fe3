from __future__ import annotations

from pathlib import Path

import pytest

import profiles
from surgebench.exit_code import UsageError
from surgebench.locust_command import headless_argv
from surgebench.run_options import RunOptions, build_plan


def _opts(tmp_path: Path, **kw: object) -> RunOptions:
    base: dict[str, object] = {"profile": "viral", "target": "stub", "out": tmp_path / "run"}
    base.update(kw)
    return RunOptions(**base)  # type: ignore[arg-type]


def test_duration_compresses_the_profile_to_that_length(tmp_path: Path) -> None:
    plan, profile, _ = build_plan(_opts(tmp_path, duration_s=30.0, seed=7))
    assert profile.duration_s == pytest.approx(30.0)
    assert plan.total_s == pytest.approx(30.0)
    assert profile.seed == 7


def test_locust_gets_the_shape_file_and_the_same_profile_options(tmp_path: Path) -> None:
    plan, profile, choice = build_plan(
        _opts(tmp_path, time_scale=60.0, params=("multiplier=5",), seed=3, slo="ttft_p95_ms=400")
    )
    argv = headless_argv(plan.locust)
    files = argv[argv.index("-f") + 1].split(",")
    assert files[0].endswith("locustfiles/chat.py") and files[1].endswith("profiles/viral.py")
    assert argv[argv.index("--profile-scale") + 1] == "60"
    assert argv[argv.index("--profile-seed") + 1] == "3"
    assert argv[argv.index("--profile-params") + 1] == "multiplier=5"
    assert argv[argv.index("--slo-ttft-p95-ms") + 1] == "400"
    assert argv[argv.index("--run-dir") + 1] == str((tmp_path / "run").resolve())
    # The Locust shape rebuilds the profile from these options: it must be the same one.
    assert profiles.load("viral", multiplier=5, time_scale=60.0, seed=3) == profile
    assert choice.builder == "viral"


def test_stub_options_reach_the_stub(tmp_path: Path) -> None:
    plan, _, _ = build_plan(
        _opts(tmp_path, replicas=2, stub_preset="tiny", seed=1, stub_args=("--max-num-seqs", "8"))
    )
    assert plan.stub_args == (
        "--preset",
        "tiny",
        "--replicas",
        "2",
        "--seed",
        "1",
        "--max-num-seqs",
        "8",
    )


def test_processes_and_workers(tmp_path: Path) -> None:
    plan, _, _ = build_plan(_opts(tmp_path, processes=2))
    argv = headless_argv(plan.locust)
    assert argv[argv.index("--processes") + 1] == "2"
    # The local master listens on loopback only, on a free port its children connect to.
    assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--master-bind-port") + 1] == argv[argv.index("--master-port") + 1]
    plan, _, _ = build_plan(_opts(tmp_path, expect_workers=3, master_bind_host="0.0.0.0"))
    argv = headless_argv(plan.locust)
    assert argv[argv.index("--expect-workers") + 1] == "3" and "--master" in argv


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"profile": "viarl"}, "Unknown profile 'viarl'; known: failover, flash"),
        ({"time_scale": 2.0, "duration_s": 10.0}, "not both"),
        ({"duration_s": -1.0}, "--duration"),
        ({"params": ("multiplier",)}, "'multiplier'"),
        ({"params": ("time_scale=3",)}, "--time-scale"),
        ({"params": ("nonsense=3",)}, "nonsense"),
        ({"params": ("multiplier=0.5",)}, "multiplier"),
        ({"processes": 0}, "--processes 0"),
        ({"replicas": 0}, "--replicas 0"),
        ({"target": "http://10.0.0.1:8000"}, "--model is required"),
        ({"target": "http://10.0.0.1:8000", "model": "m", "replicas": 2}, "--target stub only"),
        ({"api_key_env": "sk-123"}, "NAME of an environment variable"),
        ({"expect_workers": 2, "processes": 2}, "exclude each other"),
        ({"slo": "ttft=1"}, "'ttft=1'"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_value(
    tmp_path: Path, kw: dict[str, object], fragment: str
) -> None:
    with pytest.raises(UsageError) as err:
        build_plan(_opts(tmp_path, **kw))
    assert fragment in str(err.value)


def test_explicit_stage_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    stages = '[[stages]]\nname = "a"\nduration_s = 10\ntarget_start = 1\ntarget_end = 1\n'
    path.write_text('name = "mine"\n' + stages, "utf-8")
    with pytest.raises(UsageError, match="explicit stages"):
        build_plan(_opts(tmp_path, profile=str(path)))


def test_builder_form_file_carries_its_params(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text('builder = "viral"\n[params]\nmultiplier = 7.0\n', "utf-8")
    plan, profile, _ = build_plan(_opts(tmp_path, profile=str(path), duration_s=20.0))
    argv = headless_argv(plan.locust)
    assert argv[argv.index("--profile-params") + 1] == "multiplier=7.0"
    assert profile.params["multiplier"] == 7.0
