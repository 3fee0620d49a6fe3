"""How a scheduled event becomes a call to the stub's admin API (pure: no I/O here).

Contract with ``target_stub`` (Bearer token in ``Authorization``; the token comes from an
environment variable whose NAME is configured, and never appears in records or logs):

=================  ===============================================  =========================
event kind         request                                          body
=================  ===============================================  =========================
kill_replica       ``POST /admin/replicas/{target}/kill``           ``{"mode": "error"|"drop",
                                                                    "restart_after_s": float
                                                                    | null}`` (real seconds)
restore_replica    ``POST /admin/replicas/{target}/restore``        ``{}``
clear_faults       ``POST /admin/faults/clear``                     ``{}``
fault              ``POST /admin/faults``                           the event's params
=================  ===============================================  =========================

``events.jsonl`` (one line per fired event, written by ``locustfiles/shape.py``):
``t_s`` (run seconds when fired), ``kind``, ``target`` (replica index or null), ``params``,
``ok`` (bool: a 2xx answer), ``detail`` (status and reason, or why it was not sent).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from profiles.base import ScheduledEvent

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True, slots=True)
class AdminRequest:
    method: str
    path: str
    body: dict[str, Any]


def admin_request_for(event: ScheduledEvent) -> AdminRequest:
    if event.kind == "kill_replica":
        body = {"mode": "error", "restart_after_s": None, **event.params}
        return AdminRequest("POST", f"/admin/replicas/{event.target}/kill", body)
    if event.kind == "restore_replica":
        return AdminRequest("POST", f"/admin/replicas/{event.target}/restore", dict(event.params))
    if event.kind == "clear_faults":
        return AdminRequest("POST", "/admin/faults/clear", dict(event.params))
    return AdminRequest("POST", "/admin/faults", dict(event.params))


def admin_url(base_url: str, request: AdminRequest) -> str:
    """``base_url`` (the stub's root, with or without a trailing slash) joined with the path."""
    return base_url.rstrip("/") + request.path


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is localhost or a loopback address (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def event_record(*, t_s: float, event: ScheduledEvent, ok: bool, detail: str) -> dict[str, Any]:
    """One ``events.jsonl`` line (see the module docstring)."""
    return {
        "t_s": round(t_s, 3),
        "kind": event.kind,
        "target": event.target,
        "params": dict(event.params),
        "ok": ok,
        "detail": detail,
    }
