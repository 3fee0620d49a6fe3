"""Load a Profile from a preset name or a TOML file, with overrides.

Two TOML forms (see docs/profiles.md):

* builder form: ``builder = "<name>"``, optional ``description``, and a ``[params]`` table
  validated by that builder's parameter model (every preset in ``presets/`` is one);
* explicit form: the :class:`~profiles.base.Profile` fields (``name``, ``mode``, ``seed``,
  ``time_scale``, ``description``, ``params``, ``[[stages]]``, ``[[events]]``).

Every error is a :class:`~profiles.base.ProfileError` naming the file, the field and
the allowed values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from profiles.base import Profile, ProfileError, ScheduledEvent, Stage
from profiles.registry import BUILDERS, builder_named

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
_BUILDER_FORM_KEYS = ("builder", "description", "params")
# Overrides an explicit-form file accepts (its stages are data, not parameters).
_EXPLICIT_OVERRIDES = ("name", "seed", "time_scale", "mode")


def available() -> list[str]:
    """Names of the presets in ``profiles/presets/`` (each is ``<name>.toml``)."""
    return sorted(path.stem for path in PRESETS_DIR.glob("*.toml"))


def load(name_or_path: str | Path, /, **overrides: Any) -> Profile:
    """The Profile of preset ``name_or_path`` (or of that TOML file), overrides applied.

    Overrides are builder parameters (``load("viral", multiplier=5, time_scale=60)``);
    string values are coerced ("5" -> 5.0), so command-line text can be passed as is.
    """
    path = _resolve(name_or_path)
    return profile_from_document(read_document(path), source=str(path), overrides=overrides)


def read_document(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: not valid TOML: {err}") from None
    except OSError as err:
        raise ProfileError(f"{path}: cannot read: {err.strerror}") from None


def profile_from_document(
    doc: dict[str, Any], *, source: str, overrides: dict[str, Any] | None = None
) -> Profile:
    overrides = dict(overrides or {})
    if "builder" in doc:
        return _from_builder_form(doc, source, overrides)
    if "stages" not in doc:
        raise ProfileError(
            f"{source}: needs either 'builder' (builder form) or [[stages]] (explicit form)"
        )
    unknown = sorted(set(overrides) - set(_EXPLICIT_OVERRIDES))
    if unknown:
        raise ProfileError(
            f"{source}: override(s) {', '.join(unknown)} not allowed for an explicit profile; "
            f"allowed: {', '.join(_EXPLICIT_OVERRIDES)}"
        )
    data = {"name": Path(source).stem, **doc, **overrides}
    try:
        return Profile.model_validate(data)
    except ValidationError as err:
        raise ProfileError(validation_message(source, err, Profile)) from None


def _from_builder_form(doc: dict[str, Any], source: str, overrides: dict[str, Any]) -> Profile:
    unknown = sorted(set(doc) - set(_BUILDER_FORM_KEYS))
    if unknown:
        raise ProfileError(
            f"{source}: unknown key(s) {', '.join(unknown)} in a builder-form file; "
            f"allowed: {', '.join(_BUILDER_FORM_KEYS)}"
        )
    name = doc["builder"]
    if not isinstance(name, str) or name not in BUILDERS:
        raise ProfileError(
            f"{source}: builder: unknown builder {name!r}; known: {', '.join(BUILDERS)}"
        )
    builder = builder_named(name)
    params_doc = doc.get("params", {})
    if not isinstance(params_doc, dict):
        raise ProfileError(f"{source}: params: must be a table, got {params_doc!r}")
    try:
        params = builder.params_model.model_validate({**params_doc, **overrides})
    except ValidationError as err:
        raise ProfileError(
            validation_message(source, err, builder.params_model, "params", frozenset(overrides))
        ) from None
    try:
        profile = builder.make(params)
    except ValidationError as err:
        raise ProfileError(validation_message(source, err, Profile)) from None
    description = doc.get("description")
    return profile.model_copy(update={"description": description}) if description else profile


def validation_message(
    source: str,
    err: ValidationError,
    model: type[BaseModel],
    prefix: str = "",
    override_keys: frozenset[str] = frozenset(),
) -> str:
    """One line per pydantic error: ``file: field: problem (got value)`` plus allowed fields.

    A field that came from an override (not from the file) is reported as ``override <field>``.
    """
    lines = []
    for item in err.errors(include_url=False):
        from_override = bool(item["loc"]) and item["loc"][0] in override_keys
        parts = [f"[{part}]" if isinstance(part, int) else str(part) for part in item["loc"]]
        field = ".".join(parts).replace(".[", "[")
        if from_override:
            where = f"override {field}"
        elif prefix:
            where = f"{prefix}.{field}" if field else prefix
        else:
            where = field or "(top level)"
        problem = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, item["loc"])
            problem = f"unknown field; allowed: {', '.join(allowed)}"
        got = f" (got {item['input']!r})" if item["type"] != "missing" else ""
        lines.append(f"{source}: {where}: {problem}{got}")
    return "\n".join(lines)


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    nested: dict[str, type[BaseModel]] = {"stages": Stage, "events": ScheduledEvent}
    target = nested.get(str(loc[0]), model) if model is Profile and len(loc) > 2 else model
    return list(target.model_fields)


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text in available():
        return PRESETS_DIR / f"{text}.toml"
    path = Path(text)
    if path.suffix == ".toml" and path.is_file():
        return path
    raise ProfileError(
        f"Unknown profile {text!r}; known: {', '.join(available())}; or a path to a .toml file"
    )
