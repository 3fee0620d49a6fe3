"""Which LoadTestShape file Locust loads for a profile, and the custom arguments it needs.

A preset ``NAME`` (``profiles/presets/NAME.toml``) names its builder; the builder's module
``profiles/<builder>.py`` defines the shape class when Locust imports it (locustfiles/shape.py).
The shape rebuilds the profile in the Locust process as ``profiles.load(builder, **overrides)``
from its options (profiles/overrides.py): ``--profile-scale``, ``--profile-seed`` and
``--profile-params k=v,...``. A builder-form TOML file outside the presets travels the same way:
its ``[params]`` become ``--profile-params`` (an explicit-stages TOML has no shape and is refused).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiles.base import Profile
from profiles.loader import PRESETS_DIR, read_document
from surgebench.exit_code import UsageError
from surgebench.locust_command import shape_file_for


@dataclass(frozen=True, slots=True)
class ShapeChoice:
    builder: str
    shape_file: Path
    argv: tuple[str, ...]


def preset_document(name_or_path: str) -> dict[str, Any]:
    path = (
        Path(name_or_path)
        if name_or_path.endswith(".toml")
        else PRESETS_DIR / f"{name_or_path}.toml"
    )
    return read_document(path)


def shape_choice(name_or_path: str, params: Mapping[str, Any], profile: Profile) -> ShapeChoice:
    doc = preset_document(name_or_path)
    builder = doc.get("builder")
    if not isinstance(builder, str):
        raise UsageError(
            f"Profile {name_or_path!r} lists explicit stages; `surgebench run` drives Locust "
            "through a preset builder's shape, so use a builder-form file "
            '(builder = "<name>" plus [params]; docs/profiles.md)'
        )
    merged: dict[str, Any] = {}
    if name_or_path.endswith(".toml"):
        merged.update(doc.get("params") or {})  # a file outside presets/: carry its params
    merged.update(params)
    argv = ["--profile-scale", f"{profile.time_scale:.12g}", "--profile-seed", str(profile.seed)]
    if merged:
        argv += ["--profile-params", format_params(merged)]
    return ShapeChoice(builder=builder, shape_file=shape_file_for(builder), argv=tuple(argv))


def format_params(params: Mapping[str, Any]) -> str:
    """``{"multiplier": 5, "levels": [1, 2]}`` -> ``multiplier=5,levels=[1, 2]`` (JSON values;
    the reader, profiles.overrides.parse_params, keeps commas inside brackets)."""
    return ",".join(
        f"{key}={value}" if isinstance(value, str) else f"{key}={json.dumps(value)}"
        for key, value in params.items()
    )
