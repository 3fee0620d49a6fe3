"""Profile overrides from command-line / web-UI option values (pure; used by the Locust shape).

Locust's web UI sends custom arguments whose default is None back as text, and an empty
field as ``""``; both the typed command-line values and that text are accepted here, and
empty values mean "keep the preset's default".

=======================  ===================================================================
option (dest)            override
=======================  ===================================================================
``--profile-scale``      ``time_scale``
``--profile-seed``       ``seed``
``--profile-variant``    ``variant`` (presets that have variants: viral, normal)
``--surge-multiplier``   the preset's multiplier parameter (viral, flash, failover, storm)
``--baseline-users``     the preset's level parameter, and ``mode = "users"``
``--baseline-rps``       the preset's level parameter, and ``mode = "rate"``
``--profile-params``     any parameters: ``"k=v,k=v"``; a value is JSON when it parses as
                         JSON (``levels=[1,2,4]``, ``ttft_p95_ms=null``), else text
=======================  ===================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from profiles.base import ProfileError
from profiles.loader import PRESETS_DIR, available, read_document
from profiles.preset import Builder
from profiles.registry import BUILDERS

# What an explicit-form TOML file (stages written out) takes from the options.
_EXPLICIT_OPTIONS = {"profile_scale": "time_scale", "profile_seed": "seed"}


def overrides_for(name_or_path: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides for a preset name or a TOML file: a builder-form file gets its builder's
    options, an explicit-form file only ``--profile-scale`` and ``--profile-seed``."""
    path = PRESETS_DIR / f"{name_or_path}.toml" if name_or_path in available() else None
    doc = read_document(path or Path(name_or_path))
    builder = BUILDERS.get(str(doc.get("builder")))
    if builder is not None:
        return overrides_from_options(builder, options)
    return {
        param: options[option]
        for option, param in _EXPLICIT_OPTIONS.items()
        if _given(options.get(option))
    }


def overrides_from_options(builder: Builder, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``profiles.load`` overrides that the option values ask for (see module doc)."""
    fields = builder.params_model.model_fields
    out: dict[str, Any] = {}
    simple = {"profile_scale": "time_scale", "profile_seed": "seed"}
    for option, param in simple.items():
        if _given(options.get(option)):
            out[param] = options[option]
    if _given(options.get("profile_variant")):
        if "variant" not in fields:
            raise ProfileError(
                f"--profile-variant: preset {builder.name!r} has no variants; presets with "
                "variants: normal, viral"
            )
        out["variant"] = options["profile_variant"]
    if _given(options.get("surge_multiplier")):
        if builder.multiplier_param is None:
            raise ProfileError(
                f"--surge-multiplier: preset {builder.name!r} has no multiplier; presets with "
                "one: viral, flash, failover, storm"
            )
        out[builder.multiplier_param] = options["surge_multiplier"]
    users, rps = options.get("baseline_users"), options.get("baseline_rps")
    if _given(users) and _given(rps):
        raise ProfileError("--baseline-users and --baseline-rps are exclusive; give one")
    for value, mode in ((users, "users"), (rps, "rate")):
        if _given(value):
            if builder.level_param is None:
                raise ProfileError(
                    f"--baseline-{'users' if mode == 'users' else 'rps'}: preset "
                    f"{builder.name!r} has no single level; use --profile-params"
                )
            out[builder.level_param] = value
            out["mode"] = mode
    if _given(options.get("profile_params")):
        out.update(parse_params(str(options["profile_params"])))
    return out


def parse_params(text: str) -> dict[str, Any]:
    """``"a=1,b=[1,2],c=x"`` -> ``{"a": 1, "b": [1, 2], "c": "x"}`` (commas in brackets kept)."""
    out: dict[str, Any] = {}
    for item in _split_top_level(text):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ProfileError(f"--profile-params: {item!r} is not key=value (in {text!r})")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value.strip()
    return out


def _split_top_level(text: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())
