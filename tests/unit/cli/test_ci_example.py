"""examples/github-actions.yml must match the CLI: every `surgebench` command in it parses
with the real command definitions, and each `run` is a valid plan (profile, SLO, target)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from surgebench.cli import app
from surgebench.run_options import RunOptions, build_plan

WORKFLOW = Path(__file__).resolve().parents[3] / "examples" / "github-actions.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_PLACEHOLDERS = {
    "vars.STAGING_BASE_URL": "https://staging.example.com/v1",
    "vars.STAGING_MODEL": "meta-llama/Llama-3.1-8B-Instruct",
}


def _steps() -> list[tuple[str, dict[str, Any]]]:
    doc = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    return [(name, step) for name, job in doc["jobs"].items() for step in job["steps"]]


def _commands(script: str) -> list[list[str]]:
    text = _EXPRESSION.sub(lambda m: _PLACEHOLDERS.get(m.group(1), m.group(1)), script)
    lines = text.replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip().startswith("surgebench ")]


def _parsed(argv: list[str]) -> tuple[str, dict[str, Any]]:
    group = typer.main.get_command(app)
    parent = group.make_context("surgebench", argv[1:2])
    command = group.get_command(parent, argv[1])  # type: ignore[attr-defined]
    assert command is not None, argv
    ctx = command.make_context(argv[1], argv[2:], parent=parent)
    return argv[1], dict(ctx.params)


def test_every_surgebench_command_parses_and_every_run_is_valid(tmp_path: Path) -> None:
    seen = set()
    for _, step in _steps():
        for argv in _commands(step.get("run", "")):
            name, params = _parsed(argv)
            seen.add(name)
            if name == "run":
                build_plan(
                    RunOptions(
                        profile=params["profile"],
                        target=params["target"],
                        out=tmp_path / "run",
                        slo=params["slo"],
                        duration_s=params["duration"],
                        replicas=params["replicas"],
                        seed=params["seed"],
                        params=tuple(params["param"] or ()),
                        model=params["model"],
                        api_key_env=params["api_key_env"],
                        stub_preset=params["stub_preset"],
                        ci=params["ci"],
                    )
                )
                assert params["ci"] is True
    assert seen == {"run", "compare"}


def test_the_staging_key_comes_from_a_secret_by_name() -> None:
    for _, step in _steps():
        for argv in _commands(step.get("run", "")):
            if "--api-key-env" in argv:
                name = argv[argv.index("--api-key-env") + 1]
                assert step["env"][name].startswith("${{ secrets.")
