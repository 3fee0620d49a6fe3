"""Command-line / web-UI option values -> profile overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import profiles
from profiles.base import ProfileError
from profiles.overrides import overrides_for, overrides_from_options, parse_params
from profiles.registry import BUILDERS


def _profile(preset: str, **options: Any) -> profiles.Profile:
    return profiles.load(preset, **overrides_from_options(BUILDERS[preset], options))


def test_empty_web_ui_fields_keep_the_preset_defaults() -> None:
    options = dict.fromkeys(
        (
            "profile_scale",
            "profile_seed",
            "profile_variant",
            "surge_multiplier",
            "baseline_users",
            "baseline_rps",
            "profile_params",
        ),
        "",
    )
    assert overrides_from_options(BUILDERS["viral"], options) == {}
    assert overrides_from_options(BUILDERS["viral"], {"profile_scale": None}) == {}


def test_options_map_to_the_presets_parameters() -> None:
    viral = _profile(
        "viral",
        profile_scale="60",
        profile_seed="3",
        profile_variant="severe",
        surge_multiplier="4",
        baseline_rps="2.5",
    )
    assert (viral.time_scale, viral.seed, viral.mode) == (60, 3, "rate")
    assert viral.params["variant"] == "severe" and viral.peak()[1] == 10
    normal = _profile("normal", baseline_users="40", profile_params="days=2,weekend_factor=0.4")
    assert normal.params["peak"] == 40 and normal.mode == "users" and normal.params["days"] == 2
    search = _profile("search", baseline_rps="3")
    assert search.params["start_rate"] == 3


def test_options_a_preset_does_not_have_are_errors_that_say_which_presets_do() -> None:
    with pytest.raises(
        ProfileError, match="preset 'flash' has no variants; presets with variants: normal, viral"
    ):
        overrides_from_options(BUILDERS["flash"], {"profile_variant": "severe"})
    with pytest.raises(ProfileError, match="preset 'steady' has no multiplier"):
        overrides_from_options(BUILDERS["steady"], {"surge_multiplier": "2"})
    with pytest.raises(ProfileError, match="preset 'sweep' has no single level"):
        overrides_from_options(BUILDERS["sweep"], {"baseline_rps": "2"})
    with pytest.raises(ProfileError, match="exclusive"):
        overrides_from_options(BUILDERS["steady"], {"baseline_rps": "2", "baseline_users": "3"})


def test_profile_params_parse_json_values_and_keep_bracketed_commas() -> None:
    assert parse_params("levels=[1, 2,4], ttft_p95_ms=null,variant=region, x=1.5") == {
        "levels": [1, 2, 4],
        "ttft_p95_ms": None,
        "variant": "region",
        "x": 1.5,
    }
    with pytest.raises(ProfileError, match="is not key=value"):
        parse_params("days")
    assert _profile("sweep", profile_params="levels=[3,6]").peak()[1] == 6


def test_toml_files_get_the_options_their_form_accepts(tmp_path: Path) -> None:
    builder_form = tmp_path / "mine.toml"
    builder_form.write_text('builder = "flash"\n[params]\nbaseline = 2\n')
    options = {"surge_multiplier": "3", "profile_scale": "10"}
    assert overrides_for(str(builder_form), options) == {"multiplier": "3", "time_scale": "10"}
    explicit = tmp_path / "explicit.toml"
    explicit.write_text(
        '[[stages]]\nname = "a"\nduration_s = 1\ntarget_start = 1\ntarget_end = 1\n'
    )
    assert overrides_for(str(explicit), {**options, "profile_seed": "4"}) == {
        "time_scale": "10",
        "seed": "4",
    }
    assert overrides_for("viral", {"profile_variant": "extreme"}) == {"variant": "extreme"}
