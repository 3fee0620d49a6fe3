"""The Locust web UI's LLM view: live TTFT/TPOT/E2E, tokens/s, load, errors, SLOs, server gauges.

Use from a locustfile's ``init`` listener (every process: workers ship their samples to the
master)::

    from locustfiles import webui

    @events.init.add_listener
    def on_init(environment, **_):
        webui.register(environment)

On the process that serves the web UI this adds ``/llm`` (the charts), ``/llm/data`` (JSON
the page polls), ``/llm/report`` (the run's capacity report, built by ``python -m analysis
report RUN_DIR`` in a subprocess) and an "LLM" tab plus links in Locust's own UI. Importing
this package has no side effects and does not import locust; ``register`` does.
See docs/webui.md.
"""

from __future__ import annotations

from typing import Any


def register(environment: Any) -> None:
    """Install the LLM view on this Locust process (idempotent; safe on workers and headless)."""
    from locustfiles.webui.plugin import install

    install(environment)
