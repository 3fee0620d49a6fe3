from __future__ import annotations

from pathlib import Path

import pytest

from surgebench.exit_code import UsageError
from surgebench.record_gathering import gather_records


def _worker_dir(root: Path, name: str, files: dict[str, str]) -> Path:
    requests = root / name / "requests"
    requests.mkdir(parents=True)
    for file_name, text in files.items():
        (requests / file_name).write_text(text, "utf-8")
    return root / name


def test_gathers_every_worker_file(tmp_path: Path) -> None:
    master = _worker_dir(tmp_path, "master", {"master.jsonl": ""})
    a = _worker_dir(tmp_path, "a", {"worker-0-11.jsonl": '{"x":1}\n'})
    b = _worker_dir(tmp_path, "b", {"worker-1-12.jsonl": '{"x":2}\n', "worker-2-13.jsonl": "{}\n"})
    actions = gather_records(master, [a, b])
    assert sorted(p.name for p in (master / "requests").glob("*.jsonl")) == [
        "master.jsonl",
        "worker-0-11.jsonl",
        "worker-1-12.jsonl",
        "worker-2-13.jsonl",
    ]
    assert len(actions) == 3
    # Gathering again changes nothing; a longer copy of the same file replaces the shorter.
    assert all(a.startswith("skip") for a in gather_records(master, [a, b]))
    (a / "requests" / "worker-0-11.jsonl").write_text('{"x":1}\n{"x":3}\n', "utf-8")
    assert gather_records(master, [a])[0].startswith("update")
    assert (master / "requests" / "worker-0-11.jsonl").read_text("utf-8").count("\n") == 2


def test_clashing_names_are_refused(tmp_path: Path) -> None:
    master = _worker_dir(tmp_path, "master", {"worker-0-11.jsonl": '{"x":1}\n'})
    other = _worker_dir(tmp_path, "other", {"worker-0-11.jsonl": '{"y":9}\n'})
    with pytest.raises(UsageError, match="different records"):
        gather_records(master, [other])


def test_source_without_records_is_an_error(tmp_path: Path) -> None:
    master = _worker_dir(tmp_path, "master", {})
    empty = _worker_dir(tmp_path, "empty", {})
    with pytest.raises(UsageError, match=r"no \*\.jsonl"):
        gather_records(master, [empty])
