"""The committed notebook carries no outputs (they are per-machine and can hold data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "capacity_report.ipynb"


def _notebook() -> dict[str, Any]:
    nb: dict[str, Any] = json.loads(NOTEBOOK.read_text("utf-8"))
    assert nb["nbformat"] == 4
    return nb


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_notebook_is_stripped() -> None:
    for cell in _notebook()["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, _source(cell)[:60]


def test_parameters_come_first_and_it_only_calls_analysis() -> None:
    cells = _notebook()["cells"]
    assert "parameters" in cells[0]["metadata"].get("tags", [])
    for name in ("RUN_DIRS", "SLO", "PEAK_RPS", "SURGE_MULTIPLIER", "PRICE_PER_GPU_HOUR"):
        assert f"{name} =" in _source(cells[0])
    imports = [
        line.split()[1]
        for cell in cells
        if cell["cell_type"] == "code"
        for line in _source(cell).splitlines()
        if line.startswith(("import ", "from "))
    ]
    assert {module.split(".")[0] for module in imports} <= {"analysis", "json", "pathlib", "pandas"}
