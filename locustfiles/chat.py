"""Locust entry file: streaming chat users (ChatGPT-like), closed or open loop.

No load shape is imported here; add one on the command line, e.g.
``locust -f locustfiles/chat.py,profiles/viral.py --host http://127.0.0.1:8000``.
Options (Locust custom arguments, also in the web UI's start form): docs/loadgen.md.
"""

from locust import events

from locustfiles.lifecycle import install
from locustfiles.users import ChatUser

__all__ = ["ChatUser"]

install(events)
