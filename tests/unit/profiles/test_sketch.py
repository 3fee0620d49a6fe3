"""ASCII sketches are drawn from the real profile."""

from __future__ import annotations

import pytest

import profiles
from profiles.sketch import ascii_curve, format_duration


def test_sketch_columns_follow_the_profile() -> None:
    flash = profiles.load(
        "flash", baseline=10, multiplier=4, baseline_s=100, spike_s=100, after_s=100
    )
    lines = ascii_curve(flash, width=30, height=4).splitlines()
    assert lines[0].startswith("40 users |")
    top = lines[0].split("|", 1)[1]
    assert top == " " * 10 + "#" * 10 + " " * 10  # only the middle third reaches the top
    bottom = lines[3].split("|", 1)[1]
    assert bottom == "#" * 30
    assert lines[-1].strip().endswith("5 min")


def test_events_are_marked_under_the_axis() -> None:
    sketch = ascii_curve(profiles.load("failover"), width=78)
    marks = sketch.splitlines()[-2]
    assert marks.strip() == "k" + " " * (marks.strip().index("r") - 1) + "r"


def test_durations_are_readable() -> None:
    assert [format_duration(s) for s in (5, 90, 600, 86400)] == ["5 s", "90 s", "10 min", "24 h"]
    with pytest.raises(ValueError, match="width must be >= 8"):
        ascii_curve(profiles.load("steady"), width=2)
