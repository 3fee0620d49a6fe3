"""Scheduled events -> stub admin API calls; only loopback hosts by default."""

from __future__ import annotations

import pytest

from profiles.admin_request import admin_request_for, admin_url, event_record, is_loopback_url
from profiles.base import ScheduledEvent


def test_events_map_to_the_admin_contract() -> None:
    kill = ScheduledEvent(t_s=1, kind="kill_replica", target=2, params={"mode": "drop"})
    request = admin_request_for(kill)
    assert (request.method, request.path) == ("POST", "/admin/replicas/2/kill")
    assert request.body == {"mode": "drop", "restart_after_s": None}
    assert (
        admin_request_for(ScheduledEvent(t_s=1, kind="restore_replica", target=0)).path
        == "/admin/replicas/0/restore"
    )
    assert (
        admin_request_for(ScheduledEvent(t_s=1, kind="clear_faults")).path == "/admin/faults/clear"
    )
    fault = admin_request_for(ScheduledEvent(t_s=1, kind="fault", params={"slow_factor": 3}))
    assert (fault.path, fault.body) == ("/admin/faults", {"slow_factor": 3})
    assert (
        admin_url("http://127.0.0.1:8000/", request)
        == "http://127.0.0.1:8000/admin/replicas/2/kill"
    )


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.8.9.1", True),
        ("http://localhost:1/x", True),
        ("http://[::1]:8000", True),
        ("http://10.0.0.1:8000", False),
        ("https://api.openai.com", False),
        ("http://127.0.0.1.evil.example", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_event_records_have_the_events_jsonl_columns() -> None:
    record = event_record(
        t_s=1.23456, event=ScheduledEvent(t_s=1, kind="clear_faults"), ok=True, detail="HTTP 200"
    )
    assert record == {
        "t_s": 1.235,
        "kind": "clear_faults",
        "target": None,
        "params": {},
        "ok": True,
        "detail": "HTTP 200",
    }
