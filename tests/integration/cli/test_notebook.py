"""notebooks/capacity_report.ipynb executed for real (nbclient, a kernel on this venv's
Python) against the shared run; the kernel runs in its own process, like a user's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.cli.conftest import CliRun

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "capacity_report.ipynb"
KERNEL = "surgebench-test"
_EXECUTE = """
import sys, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, kernel_name=sys.argv[3], timeout=180,
                        resources={"metadata": {"path": sys.argv[4]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "".join(value)


def _outputs_text(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(_text(output.get("text", "")))
        parts += [_text(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_notebook_builds_figures_and_a_plan_from_a_run(shared_run: CliRun, tmp_path: Path) -> None:
    # A kernelspec of our own, on this interpreter, so no user-installed kernel is picked up.
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}), "utf-8"
    )
    nb = json.loads(NOTEBOOK.read_text("utf-8"))
    first = nb["cells"][0]
    assert "parameters" in first["metadata"].get("tags", [])
    first["source"] = _text(first["source"]) + (
        f"\nRUN_DIRS = [{str(shared_run.run_dir)!r}]\nPEAK_RPS = 50.0\nSURGE_MULTIPLIER = 4.0\n"
    )
    given, executed = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    given.write_text(json.dumps(nb), "utf-8")
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _EXECUTE,
            str(given),
            str(executed),
            KERNEL,
            str(NOTEBOOK.parent.parent),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(executed.read_text("utf-8"))
    code = [cell for cell in out["cells"] if cell["cell_type"] == "code"]
    assert not [
        o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]
    figures = [
        o
        for cell in code
        for o in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]
    assert len(figures) >= 4
    plan_text = _outputs_text(code[-1])
    assert "replicas, surge with N+1" in plan_text and "cost per hour" in plan_text
    assert shared_run.run_dir.name in _outputs_text(code[1])
