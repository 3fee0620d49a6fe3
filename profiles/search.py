"""``search``: an online saturation search: raise the rate until the SLO fails, bisect, hold.

The decisions are made by the pure state machine in :mod:`profiles.search_controller`
(parameters, rules and the SLO test are documented there). Because the rates depend on
the system, ``profiles.load("search")`` returns the optimistic plan (every probe passes:
grow to ``max_rate`` and hold there for ``hold_s``); the Locust shape replaces
``shape.profile`` with the probes actually run as it goes.
"""

from __future__ import annotations

import sys

from profiles.base import Profile
from profiles.preset import Builder
from profiles.search_controller import (
    ProbeSpan,
    SearchObservation,
    SearchParams,
    SearchState,
    advance,
    probe_name,
    realized_profile,
)


def build_search(params: SearchParams) -> Profile:
    """The optimistic plan: every probe passes, so grow to ``max_rate`` and hold there."""
    state = SearchState("grow", params.start_rate, 0.0, None, 0)
    spans: list[ProbeSpan] = []
    step_run_s = params.step_s / params.time_scale
    while state.phase != "hold":
        spans.append(ProbeSpan(probe_name(len(spans) + 1), state.rate, step_run_s))
        ok = SearchObservation(state.rate, 0.0, 0.0, 0.0, 1.0)
        state = advance(params, state, ok)
    spans.append(ProbeSpan("hold", state.rate, params.hold_s / params.time_scale))
    return realized_profile(params, spans)


BUILDER = Builder(
    name="search",
    params_model=SearchParams,
    build=build_search,
    summary="online saturation search: grow until the SLO fails, bisect, hold",
    level_param="start_rate",
)

if "locust" in sys.modules:  # only when Locust loads this file (see locustfiles/shape.py)
    from locustfiles.shape import shape_class_for

    SearchShape = shape_class_for("search")
