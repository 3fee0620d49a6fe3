"""A discrete-event timer loop: the fleet, its engines and the autoscaler in simulated time.

It offers the four methods :class:`target_stub.runner.EngineRunner` and
:class:`target_stub.cluster.Fleet` use from an asyncio loop (``time``, ``call_soon``,
``call_later``, ``call_at``), so the very code that serves HTTP runs here with no network
and no sleeping: a test moves time with :meth:`SimLoop.run_until`. Callbacks due at the
same instant run in the order they were scheduled, as on asyncio.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


class SimHandle:
    """A scheduled callback; :meth:`cancel` makes the loop skip it."""

    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SimLoop:
    """Simulated time in seconds, starting at ``start_s``."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s
        self._heap: list[tuple[float, int, SimHandle]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now_s

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> SimHandle:
        handle = SimHandle(max(when, self.now_s), callback, args)
        heapq.heappush(self._heap, (handle.when, next(self._order), handle))
        return handle

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> SimHandle:
        return self.call_at(self.now_s + max(0.0, delay), callback, *args)

    def call_soon(self, callback: Callable[..., object], *args: Any) -> SimHandle:
        return self.call_at(self.now_s, callback, *args)

    def run_until(self, t_s: float) -> None:
        """Run every callback due at or before ``t_s``, then leave the clock at ``t_s``."""
        heap = self._heap
        while heap and heap[0][0] <= t_s:
            when, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self.now_s = when
            handle.callback(*handle.args)
        self.now_s = max(self.now_s, t_s)

    def run_for(self, duration_s: float) -> None:
        self.run_until(self.now_s + duration_s)

    @property
    def pending(self) -> int:
        """Scheduled callbacks not yet run (cancelled ones included until popped)."""
        return len(self._heap)
