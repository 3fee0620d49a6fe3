"""``surgebench gather``: bring worker records into the master's run directory.

In a master/worker run across machines every worker appends ``requests/<process_id>.jsonl``
under the same run-directory path on its own disk (docs/distributed.md). Copy those
directories to the master machine (rsync, scp, ``kubectl cp``) and gather them: each file is
copied to ``RUN_DIR/requests/`` under its own name. Process ids are unique per worker
(``worker-<index>-<pid>``), so names never clash between workers; the same file gathered
twice is skipped, and a longer copy of a file already gathered (taken later in the run)
replaces the shorter one. Two different files with one name are an error.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from surgebench.exit_code import UsageError


def gather_records(run_dir: Path, sources: Sequence[Path]) -> list[str]:
    """Copy every ``SOURCE/requests/*.jsonl`` into ``run_dir/requests``; one line per action."""
    dest_dir = run_dir / "requests"
    dest_dir.mkdir(parents=True, exist_ok=True)
    actions: list[str] = []
    for source in sources:
        source_dir = source / "requests"
        files = sorted(source_dir.glob("*.jsonl"))
        if not files:
            raise UsageError(f"{source_dir} holds no *.jsonl record files")
        for path in files:
            actions.append(_gather_one(path, dest_dir / path.name))
    return actions


def _gather_one(path: Path, dest: Path) -> str:
    if path.resolve() == dest.resolve():
        return f"skip {path} (already in place)"
    if not dest.exists():
        shutil.copyfile(path, dest)
        return f"copy {path} -> {dest}"
    new, old = path.read_bytes(), dest.read_bytes()
    if new == old or old.startswith(new):
        return f"skip {path} (already gathered)"
    if new.startswith(old):
        shutil.copyfile(path, dest)
        return f"update {path} -> {dest} (longer copy)"
    raise UsageError(
        f"{path} and {dest} have the same name but different records; process ids must be "
        "unique per run (is this a worker of another run?)"
    )
