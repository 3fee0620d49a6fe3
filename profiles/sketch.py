"""ASCII sketches of a profile's curve (for docs/profiles.md and terminals).

``ascii_curve(profile)`` samples ``profile.target_at`` (noise included) at the middle of
each column, so the sketch is drawn from the real profile, not from a description.
Event markers under the time axis: ``k`` kill_replica, ``r`` restore_replica,
``c`` clear_faults, ``f`` fault.
"""

from __future__ import annotations

from profiles.base import Profile

_EVENT_MARK = {"kill_replica": "k", "restore_replica": "r", "clear_faults": "c", "fault": "f"}
_UNIT = {"users": "users", "rate": "req/s"}


def ascii_curve(profile: Profile, *, width: int = 64, height: int = 10) -> str:
    """A ``height``-row plot of the target over the run, ``width`` columns wide."""
    if width < 8 or height < 2:
        raise ValueError(f"width must be >= 8 and height >= 2, got width={width}, height={height}")
    duration_s = profile.duration_s
    values = [profile.target_at((c + 0.5) * duration_s / width) for c in range(width)]
    top = max(*values, 1e-9)
    label_top = f"{top:.4g} {_UNIT[profile.mode]}"
    pad = max(len(label_top), 3)
    lines = []
    for row in range(height, 0, -1):
        # A column is filled up to the row whose band contains its value (rounded).
        cells = "".join("#" if round(v / top * height) >= row else " " for v in values)
        label = label_top if row == height else ""
        lines.append(f"{label:>{pad}} |{cells}")
    lines.append(f"{'0':>{pad}} +{'-' * width}")
    marks = [" "] * width
    for t_s, event in profile.event_times_s():
        column = min(width - 1, int(t_s / duration_s * width))
        marks[column] = _EVENT_MARK[event.kind]
    if profile.events:
        lines.append(f"{'':>{pad}}  {''.join(marks).rstrip()}")
    start, end = "0", format_duration(duration_s)
    lines.append(f"{'':>{pad}}  {start}{end:>{width - len(start)}}")
    return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """``90`` -> ``"1.5 min"``; seconds below 2 min, minutes below 2 h, else hours."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
