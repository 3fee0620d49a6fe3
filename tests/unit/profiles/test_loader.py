"""Loading presets and TOML files: errors name the file, the field and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

import profiles
from profiles.base import ProfileError

EXPLICIT = """
name = "mine"
mode = "rate"
seed = 4
[[stages]]
name = "warm"
duration_s = 60
target_start = 0
target_end = 5
transition = "linear"
[[stages]]
name = "hold"
duration_s = 120
target_start = 5
target_end = 5
transition = "step"
noise_frac = 0.1
[[events]]
t_s = 90
kind = "kill_replica"
target = 1
params = { mode = "drop" }
"""


def _write(tmp_path: Path, text: str, name: str = "custom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_explicit_toml_profile_loads_with_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, EXPLICIT)
    profile = profiles.load(path, time_scale=2)
    assert (profile.name, profile.mode, profile.seed, profile.duration_s) == ("mine", "rate", 4, 90)
    assert profile.event_times_s()[0][0] == 45
    assert profile.events[0].params == {"mode": "drop"}


def test_builder_form_toml_reuses_a_preset_builder(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'builder = "viral"\ndescription = "mine"\n[params]\nvariant = "severe"\nbaseline = 3\n',
    )
    profile = profiles.load(str(path), time_scale=10)
    assert profile.description == "mine"
    assert profile.peak()[1] == 15
    assert profile.params["time_scale"] == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            EXPLICIT.replace('transition = "linear"', 'transition = "cubic"'),
            r"custom\.toml: stages\[0\]\.transition: Input should be"
            r" 'step', 'linear', 'exponential' or 'sine' \(got 'cubic'\)",
        ),
        (
            EXPLICIT.replace("noise_frac = 0.1", "noise = 0.1"),
            r"custom\.toml: stages\[1\]\.noise: unknown field; allowed:"
            r" name, duration_s, target_start, target_end, transition, noise_frac",
        ),
        (
            EXPLICIT.replace('kind = "kill_replica"', 'kind = "reboot"'),
            r"custom\.toml: events\[0\]\.kind: Input should be"
            r" 'kill_replica', 'restore_replica', 'clear_faults' or 'fault'",
        ),
        (
            EXPLICIT.replace('mode = "rate"', 'mode = "rps"'),
            r"custom\.toml: mode: Input should be 'users' or 'rate' \(got 'rps'\)",
        ),
        (
            EXPLICIT.replace("duration_s = 60", "duration_s = -1"),
            r"custom\.toml: stages\[0\]\.duration_s: Input should be greater than 0 \(got -1\)",
        ),
        (
            EXPLICIT.replace("seed = 4", "seed = 4\nspeed = 2"),
            r"custom\.toml: speed: unknown field; allowed: name, mode, stages, seed, time_scale",
        ),
        (
            'builder = "viarl"\n',
            r"custom\.toml: builder: unknown builder 'viarl'; known: steady, soak, normal, viral",
        ),
        (
            'builder = "viral"\n[params]\nvariant = "huge"\n',
            r"custom\.toml: params\.variant: Input should be 'moderate',"
            r" 'severe' or 'extreme' \(got 'huge'\)",
        ),
        (
            'builder = "flash"\n[params]\nspike = 3\n',
            r"custom\.toml: params\.spike: unknown field; allowed: seed,"
            r" time_scale, mode, baseline, multiplier",
        ),
        (
            'builder = "flash"\nstages = []\n',
            r"custom\.toml: unknown key\(s\) stages in a builder-form"
            r" file; allowed: builder, description, params",
        ),
        (
            'name = "x"\n',
            r"custom\.toml: needs either 'builder' \(builder form\) or"
            r" \[\[stages\]\] \(explicit form\)",
        ),
        ("name = \n", r"custom\.toml: not valid TOML"),
    ],
)
def test_invalid_files_name_the_file_the_field_and_the_allowed_values(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError, match=expected):
        profiles.load(path)


def test_bad_overrides_are_reported_as_overrides() -> None:
    with pytest.raises(
        ProfileError, match=r"viral\.toml: override multiplir: unknown field; allowed: .*multiplier"
    ):
        profiles.load("viral", multiplir=3)
    with pytest.raises(ProfileError, match=r"override time_scale: Input should be greater than 0"):
        profiles.load("steady", time_scale=0)


def test_explicit_files_accept_only_run_level_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, EXPLICIT)
    with pytest.raises(
        ProfileError,
        match=r"override\(s\) baseline not allowed .*; allowed: name, seed, time_scale, mode",
    ):
        profiles.load(path, baseline=3)


def test_unknown_names_list_the_known_presets() -> None:
    with pytest.raises(
        ProfileError,
        match=r"Unknown profile 'viarl'; known: failover, flash, normal,"
        r" search, soak, steady, storm, sweep, viral",
    ):
        profiles.load("viarl")


def test_string_overrides_from_a_command_line_are_coerced() -> None:
    profile = profiles.load("flash", multiplier="4", baseline="2.5", time_scale="60")
    assert profile.peak()[1] == 10
    assert profile.time_scale == 60
