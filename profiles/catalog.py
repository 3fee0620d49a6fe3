"""The preset catalogue in Markdown, generated from the code (docs/profiles.md's presets).

``python -m profiles docs --write docs/profiles.md`` rewrites the block between
:data:`BEGIN` and :data:`END`; ``--check`` fails when the file is stale. Curves are
:func:`profiles.sketch.ascii_curve` of the real profiles, parameters and defaults come
from the preset files and the parameter models.
"""

from __future__ import annotations

import inspect
from typing import Any

from profiles.base import Profile
from profiles.loader import available, load
from profiles.registry import BUILDERS
from profiles.sketch import ascii_curve, format_duration

BEGIN = "<!-- BEGIN GENERATED: python -m profiles docs --write docs/profiles.md -->"
END = "<!-- END GENERATED -->"
# Extra curves worth showing beside the defaults.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "viral": [{"variant": "severe"}, {"variant": "extreme"}],
    "normal": [{"variant": "region", "days": 7}],
}
_WIDTH = 72


def catalog_markdown() -> str:
    return "\n".join(preset_markdown(name) for name in available()).rstrip() + "\n"


def preset_markdown(name: str) -> str:
    builder = BUILDERS[name]
    profile = load(name)
    module = inspect.getmodule(builder.build)
    doc = inspect.cleandoc(module.__doc__ or "") if module is not None else ""
    out = [f"### `{name}`: {builder.summary}", "", doc, ""]
    out += _curve(f'profiles.load("{name}")', profile)
    for overrides in VARIANTS.get(name, []):
        args = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        out += _curve(f'profiles.load("{name}", {args})', load(name, **overrides))
    out += ["Parameters (defaults from `profiles/presets/" + name + ".toml`):", ""]
    out += ["| parameter | default | meaning |", "|---|---|---|"]
    for field_name, info in builder.params_model.model_fields.items():
        default = profile.params.get(field_name)
        out.append(f"| `{field_name}` | `{_toml(default)}` | {info.description or ''} |")
    out += [""]
    flags = (
        [f"`--baseline-users` / `--baseline-rps` set `{builder.level_param}`"]
        if builder.level_param
        else []
    )
    if builder.multiplier_param:
        flags.append(f"`--surge-multiplier` sets `{builder.multiplier_param}`")
    if "variant" in builder.params_model.model_fields:
        flags.append("`--profile-variant` sets `variant`")
    if flags:
        out += ["Locust options: " + "; ".join(flags) + ".", ""]
    return "\n".join(out) + "\n"


def update_document(text: str) -> str:
    """``text`` with the generated block replaced (the markers must be present)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n\n" + catalog_markdown() + "\n" + text[end:]


def _curve(title: str, profile: Profile) -> list[str]:
    length = format_duration(profile.duration_s)
    stages = ", ".join(
        f"{b.name} {format_duration(b.t_end_s - b.t_start_s)}" for b in profile.boundaries()
    )
    if len(profile.stages) > 8:
        stages = f"{len(profile.stages)} stages"
    return [
        f"`{title}`: {length} at time scale {profile.time_scale:g}, "
        f"mode `{profile.mode}`; {stages}.",
        "",
        "```text",
        ascii_curve(profile, width=_WIDTH, height=8),
        "```",
        "",
    ]


def _toml(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
