"""docs/profiles.md's preset catalogue is what the code generates; the CLI works."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiles.__main__ import main
from profiles.catalog import BEGIN, END, catalog_markdown, preset_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "profiles.md"


def test_docs_catalogue_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    assert block.strip() == catalog_markdown().strip(), (
        "docs/profiles.md is stale: run python -m profiles docs --write docs/profiles.md"
    )


def test_each_preset_section_shows_its_curve_and_every_parameter() -> None:
    section = preset_markdown("failover")
    assert "```text" in section and " k " in section.replace("k  ", "k ")
    for parameter in ("token_env", "kill_mode", "restart_after_s", "time_scale", "seed"):
        assert f"| `{parameter}` |" in section


def test_cli_sketches_and_reports_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sketch", "flash", "multiplier=3", "baseline=1"]) == 0
    assert capsys.readouterr().out.startswith("3 users |")
    assert main(["sketch", "flash", "multiplir=3"]) == 2
    assert "override multiplir: unknown field" in capsys.readouterr().err
    assert main(["docs", "--check", str(DOC)]) == 0
