"""Traffic profiles: what load to offer over time (pure: no locust, no aiohttp).

Public API: :func:`load`, :func:`available`, and the model in :mod:`profiles.base`
(:class:`Profile`, :class:`Stage`, :class:`ScheduledEvent`, :class:`StageBoundary`,
:class:`ProfileError`). Arrival times for open loop are in :mod:`profiles.arrivals`,
the online saturation search in :mod:`profiles.search_controller`, ASCII sketches in
:mod:`profiles.sketch`. See docs/profiles.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from profiles.base import Profile, ProfileError, ScheduledEvent, Stage, StageBoundary

__all__ = [
    "Profile",
    "ProfileError",
    "ScheduledEvent",
    "Stage",
    "StageBoundary",
    "available",
    "load",
]


def load(name_or_path: str | Path, /, **overrides: Any) -> Profile:
    """The Profile of a preset or TOML file, with overrides; see :func:`profiles.loader.load`."""
    # Imported here, not at the top: the preset modules import locustfiles.shape when Locust
    # is loaded, and locustfiles.shape imports profiles.base; an eager import would cycle.
    from profiles.loader import load as load_profile

    return load_profile(name_or_path, **overrides)


def available() -> list[str]:
    """Names of the bundled presets."""
    from profiles.loader import available as available_presets

    return available_presets()
