"""Request routers of a fleet, registered by name.

A router picks one of the *ready* replicas for each new request; it never sees starting,
failed, draining or stopped replicas (the fleet filters them). Routers are called once per
request, so they look only at counters the runner keeps anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Sequence as Seq
from types import MappingProxyType
from typing import Protocol, TypeVar


class Routable(Protocol):
    @property
    def outstanding(self) -> int:
        """Requests accepted and not finished."""


R = TypeVar("R", bound=Routable)


class Router(Protocol):
    name: str

    def choose(self, ready: Seq[R]) -> R:
        """One of ``ready`` (never empty)."""


class RoundRobinRouter:
    """Each ready replica in turn, whatever its load (a plain L4 load balancer)."""

    name = "round_robin"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, ready: Seq[R]) -> R:
        turn = self._turn
        self._turn = turn + 1
        return ready[turn % len(ready)]


class LeastOutstandingRouter:
    """The ready replica with the fewest outstanding requests (Envoy's LEAST_REQUEST).

    Ties go to the next replica after the previous choice, so an idle fleet still spreads
    requests instead of piling them on replica 0.
    """

    name = "least_outstanding"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, ready: Seq[R]) -> R:
        n = len(ready)
        self._turn += 1
        start = self._turn % n
        best = ready[start]
        best_load = best.outstanding
        for k in range(1, n):
            candidate = ready[(start + k) % n]
            load = candidate.outstanding
            if load < best_load:
                best, best_load = candidate, load
        return best


ROUTERS: Mapping[str, Callable[[], Router]] = MappingProxyType(
    {
        RoundRobinRouter.name: RoundRobinRouter,
        LeastOutstandingRouter.name: LeastOutstandingRouter,
    }
)


def create_router(name: str) -> Router:
    """A new router called ``name``; ValueError naming the known routers otherwise."""
    try:
        factory = ROUTERS[name]
    except KeyError:
        known = ", ".join(sorted(ROUTERS))
        raise ValueError(f"Unknown router {name!r}; known: {known}") from None
    return factory()
