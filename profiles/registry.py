"""Preset builders by name. Adding a preset = one module with a ``BUILDER`` plus one line here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from profiles import failover, flash, normal, search, soak, steady, storm, sweep, viral
from profiles.base import ProfileError
from profiles.preset import Builder

BUILDERS: Mapping[str, Builder] = MappingProxyType(
    {
        module.BUILDER.name: module.BUILDER
        for module in (steady, soak, normal, viral, flash, sweep, failover, storm, search)
    }
)


def builder_named(name: str) -> Builder:
    try:
        return BUILDERS[name]
    except KeyError:
        raise ProfileError(f"Unknown builder {name!r}; known: {', '.join(BUILDERS)}") from None
