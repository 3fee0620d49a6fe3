"""A Locust user file for profile tests: makes no network requests.

``IdleUser`` sleeps between tasks. When ``SURGEBENCH_TEST_BOUNDARY_USERS`` is set it also
fires synthetic ``LLM`` rows (TTFT, TPOT) into Locust's stats: a fake system whose p95
TTFT is 50 ms up to that many users and 5,000 ms above, so the ``search`` shape has a
known boundary to find without any server.
"""

from __future__ import annotations

import os

from locust import User, constant, task


class IdleUser(User):
    wait_time = constant(0.05)

    @task
    def idle(self) -> None:
        boundary = os.environ.get("SURGEBENCH_TEST_BOUNDARY_USERS")
        if not boundary:
            return
        users = self.environment.runner.user_count
        ttft_ms = 50.0 if users <= int(boundary) else 5000.0
        for name, value_ms in (("TTFT", ttft_ms), ("TPOT", 10.0)):
            self.environment.events.request.fire(
                request_type="LLM",
                name=name,
                response_time=value_ms,
                response_length=0,
                exception=None,
                context={},
            )
