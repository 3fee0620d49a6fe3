"""Locust ``LoadTestShape`` adapter over a ``profiles.Profile``: one shape class per preset.

Usage::

    locust -f locustfiles/chat.py,profiles/viral.py --headless --host http://127.0.0.1:8000
    locust -f locustfiles/,profiles/ --class-picker     # every preset in the shape dropdown

How the shapes come to exist: ``profiles/`` must not import locust, so each preset module
ends with ``if "locust" in sys.modules: ViralShape = shape_class_for("viral")``. Locust
imports every ``-f`` file (for a directory: every ``.py`` whose name does not start with
``_``, each as a top-level module named after the file) and collects the non-abstract
``LoadTestShape`` subclasses in that module's namespace; the helper modules of
``profiles/`` (base, loader, registry, arrivals, ...) define none. Every class made here
has ``__module__ == "locustfiles.shape"``, so the same preset reached through two files
is one name from one file, which Locust deduplicates instead of exiting with
"Duplicate shape classes".

For other components: ``shape.profile`` is the Profile in force (read it each time you
need it: the ``search`` shape replaces it with the probes actually run; before a run it
is built from the current options). ``shape.profile.params`` carries client hints such
as ``retry_policy`` (storm). Options: see :func:`add_profile_arguments` and
``profiles/overrides.py``.

Locust quirks handled: ``tick()`` runs about once a second, on the master only, and
``runner.start()`` blocks until a ramp finishes, so the spawn rate is computed per tick
to reach that tick's target within half a second (a stage shorter than its ramp is
never skipped). In ``rate`` mode the shape keeps a fixed number of dispatcher users and
publishes the rate each tick through ``locustfiles.open_loop.publish_rate``.

Files: ``<run_dir>/events.jsonl`` when ``--run-dir`` is known, one line per fired event;
columns in ``profiles/admin_request.py``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import events
from locust.shape import LoadTestShape

from profiles.admin_request import admin_request_for, admin_url, event_record, is_loopback_url
from profiles.base import Profile, ProfileError, ScheduledEvent
from profiles.search_controller import (
    ProbeSpan,
    SearchController,
    SearchParams,
    StatsSnapshot,
    hold_span,
    observe_window,
    probe_span,
    realized_profile,
    with_duration,
)

logger = logging.getLogger(__name__)

_RAMP_WITHIN_S = 0.5  # each tick's user change completes within half a tick
_ADMIN_TIMEOUT_S = 10.0
_DEFAULT_TOKEN_ENV = "SURGEBENCH_ADMIN_TOKEN"
# Rows the locustfiles users fire into Locust's stats for each LLM request (issue 4).
LLM_REQUEST_TYPE = "LLM"
TTFT_ENTRY = "TTFT"
TPOT_ENTRY = "TPOT"

TickResult = tuple[int, float] | None


@dataclass(slots=True)
class _Search:
    controller: SearchController
    params: SearchParams
    spans: list[ProbeSpan]  # finished spans, actual run durations
    current: ProbeSpan
    start_s: float
    before: StatsSnapshot | None = None


@dataclass(slots=True)
class _Run:
    """Per-run state, created at the first tick of a run."""

    key: object  # the shape greenlet of the run (held, so its identity cannot be reused)
    profile: Profile
    events: list[tuple[float, ScheduledEvent]]
    options: Mapping[str, Any]
    next_event: int = 0
    last: TickResult = None
    search: _Search | None = None
    publish: Callable[[Any, float, str], None] | None = None
    error: str | None = None


class ProfileShape(LoadTestShape):
    """Drives Locust from ``profiles.load(self.preset, **overrides from the options)``."""

    abstract = True
    preset: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._run: _Run | None = None

    @property
    def profile(self) -> Profile:
        if self._run is not None and self._run.error is None:
            return self._run.profile
        return self.build_profile(self._options())

    def build_profile(self, options: Mapping[str, Any]) -> Profile:
        """Override for a Python-built profile; the default loads the preset with overrides."""
        from profiles.loader import load
        from profiles.overrides import overrides_for

        return load(self.preset, **overrides_for(self.preset, options))

    def tick(self) -> TickResult:
        run = self._ensure_run()
        if run.error is not None:
            return None
        t_s: float = self.get_run_time()  # type: ignore[no-untyped-call]
        if run.search is not None:
            self._advance_search(run, t_s)
        self._fire_due_events(run, t_s)
        if t_s >= run.profile.duration_s:
            logger.info("profile %s finished after %.1f s", run.profile.name, t_s)
            if run.publish is not None:  # offer nothing while Locust winds down
                run.publish(self._environment(), 0.0, "")
            return None
        target = run.profile.target_at(t_s)
        if run.profile.mode == "rate":
            return self._rate_tick(run, t_s, target)
        users = round(target)
        if run.last is not None and run.last[0] == users:
            return run.last
        current = self.runner.user_count if self.runner is not None else 0
        run.last = (users, max(abs(users - current), 1) / _RAMP_WITHIN_S)
        return run.last

    def _environment(self) -> Any:
        assert self.runner is not None, "Locust attaches the runner before the first tick"
        return self.runner.environment

    def _options(self) -> dict[str, Any]:
        environment = getattr(self.runner, "environment", None)
        parsed = getattr(environment, "parsed_options", None)
        return dict(vars(parsed)) if parsed is not None else {}

    def _ensure_run(self) -> _Run:
        # Locust resets the shape clock twice when a run starts (start_shape, then the first
        # runner.start()), so a run is keyed on the shape greenlet, not on reset_time calls.
        key = getattr(self.runner, "shape_greenlet", None)
        if self._run is not None and self._run.key is key:
            return self._run
        options = self._options()
        try:
            profile = self.build_profile(options)
        except ProfileError as err:
            logger.error("profile %r: %s", self.preset, err)
            self._run = _Run(key, _placeholder(), [], options, error=str(err))
            return self._run
        run = _Run(key, profile, profile.event_times_s(), options)
        if profile.name == "search":
            run.search = _start_search(SearchParams.model_validate(profile.params))
            run.profile = realized_profile(run.search.params, [run.search.current])
        if profile.mode == "rate":
            run.publish = _publisher()
            if run.publish is None:
                run.error = "no publisher"
                logger.error(
                    "profile %r is open loop (mode rate) but locustfiles.open_loop.publish_rate "
                    "is not available; use --baseline-users or --profile-params mode=users",
                    profile.name,
                )
        short = [b.name for b in profile.boundaries() if b.t_end_s - b.t_start_s < 1.0]
        if short:
            logger.warning(
                "stages shorter than Locust's 1 s tick (sampled at most once): %s", ", ".join(short)
            )
        logger.info(
            "profile %s: mode %s, %d stages, %.1f s at time scale %g",
            profile.name,
            profile.mode,
            len(profile.stages),
            profile.duration_s,
            profile.time_scale,
        )
        self._run = run
        # t = 0 is when the first target goes out, however long building the profile took.
        self.reset_time()  # type: ignore[no-untyped-call]
        return run

    def _rate_tick(self, run: _Run, t_s: float, rate_rps: float) -> TickResult:
        stage = run.profile.stage_at(t_s)
        if run.publish is not None:
            run.publish(self._environment(), rate_rps, stage.name if stage else "")
        if run.last is None:
            users = int(run.options.get("dispatcher_users") or 0) or _worker_count(self.runner)
            run.last = (users, users / _RAMP_WITHIN_S)
        return run.last

    def _advance_search(self, run: _Run, t_s: float) -> None:
        search = run.search
        assert search is not None
        if search.controller.done:
            return
        elapsed_s = t_s - search.start_s
        step_s = search.params.step_s / search.params.time_scale
        environment = self._environment()
        if search.before is None and elapsed_s >= search.params.settle_frac * step_s:
            search.before = _snapshot(environment, t_s)
        if elapsed_s < step_s:
            return
        after = _snapshot(environment, t_s)
        obs = observe_window(
            search.before or after, after, search.controller.rate, run.profile.mode
        )
        rate = search.controller.next_rate(obs)
        search.spans.append(with_duration(search.current, elapsed_s))
        state = search.controller.state
        search.current = (
            hold_span(state, search.params)
            if search.controller.done
            else probe_span(len(search.spans) + 1, state, search.params)
        )
        search.start_s, search.before = t_s, None
        run.profile = realized_profile(search.params, [*search.spans, search.current])
        logger.info("search: %s -> %s at %.4g (%s)", obs, state.phase, rate, search.current.name)

    def _fire_due_events(self, run: _Run, t_s: float) -> None:
        while run.next_event < len(run.events) and run.events[run.next_event][0] <= t_s:
            _, event = run.events[run.next_event]
            run.next_event += 1
            # In a greenlet: an admin call must never delay the next tick.
            gevent.spawn(self._fire_event, run, event, t_s)

    def _fire_event(self, run: _Run, event: ScheduledEvent, t_s: float) -> None:
        ok, detail = self._send_admin(run, event)
        record = event_record(t_s=t_s, event=event, ok=ok, detail=detail)
        log = logger.info if ok else logger.warning
        log("event %s target=%s at %.1f s: %s", event.kind, event.target, t_s, detail)
        run_dir = run.options.get("run_dir")
        if run_dir:
            path = Path(str(run_dir)) / "events.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def _send_admin(self, run: _Run, event: ScheduledEvent) -> tuple[bool, str]:
        base = run.options.get("admin_url") or getattr(self._environment(), "host", None)
        if not base:
            return False, "not sent: no admin URL (pass --admin-url or --host)"
        request = admin_request_for(event)
        url = admin_url(str(base), request)
        if not is_loopback_url(url) and not run.options.get("allow_remote_admin"):
            return False, f"refused: {url} is not a loopback host (pass --allow-remote-admin)"
        token_env = str(
            run.options.get("admin_token_env")
            or run.profile.params.get("token_env")
            or _DEFAULT_TOKEN_ENV
        )
        token = os.environ.get(token_env)
        if not token:
            return False, f"not sent: environment variable {token_env} is not set"
        http_request = urllib.request.Request(
            url,
            data=json.dumps(request.body).encode(),
            method=request.method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(http_request, timeout=_ADMIN_TIMEOUT_S) as response:
                status = int(response.status)
                return 200 <= status < 300, f"HTTP {status} {request.method} {request.path}"
        except urllib.error.HTTPError as err:
            return False, f"HTTP {err.code} {err.reason} {request.method} {request.path}"
        except (urllib.error.URLError, OSError) as err:
            return False, f"not sent: {getattr(err, 'reason', err)} ({request.path})"


def shape_class_for(preset: str, *, class_name: str | None = None) -> type[ProfileShape]:
    """A concrete shape class for ``preset`` (a preset name or a TOML path), e.g. ``ViralShape``.

    Also registers the profile options with Locust (idempotent).
    """
    events.init_command_line_parser.add_listener(add_profile_arguments)  # type: ignore[no-untyped-call]
    words = re.split(r"[^0-9A-Za-z]+", Path(preset).stem)
    name = class_name or "".join(word.capitalize() for word in words if word) + "Shape"
    namespace = {
        "preset": preset,
        "abstract": False,
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"Locust shape for the profile {preset!r}.",
    }
    return type(name, (ProfileShape,), namespace)


def add_profile_arguments(parser: Any, **_kwargs: Any) -> None:
    """The profile options (shown in the web UI's custom parameters); added once per parser."""
    if "--profile-scale" in parser._option_string_actions:
        return
    text = {"default": None, "type": str}
    parser.add_argument(
        "--profile-scale", help="time compression: run time = profile time / scale", **text
    )
    parser.add_argument("--profile-seed", help="profile seed (noise)", **text)
    parser.add_argument(
        "--profile-variant", help="viral: moderate|severe|extreme; normal: global|region", **text
    )
    parser.add_argument("--surge-multiplier", help="peak = multiplier x baseline", **text)
    parser.add_argument("--baseline-users", help="closed loop: baseline level in users", **text)
    parser.add_argument("--baseline-rps", help="open loop: baseline level in req/s", **text)
    parser.add_argument(
        "--profile-params", help="more parameters: k=v,k=v (docs/profiles.md)", **text
    )
    parser.add_argument(
        "--dispatcher-users",
        type=int,
        default=0,
        help="open loop: dispatcher users (0: one per process)",
    )
    parser.add_argument("--admin-url", default="", help="stub admin base URL (default: --host)")
    parser.add_argument(
        "--admin-token-env", default="", help="NAME of the env var with the stub admin token"
    )
    parser.add_argument(
        "--allow-remote-admin",
        action="store_true",
        default=False,
        help="allow scheduled fault events to a non-loopback host",
    )


def _start_search(params: SearchParams) -> _Search:
    controller = SearchController(params)
    return _Search(controller, params, [], probe_span(1, controller.state, params), start_s=0.0)


def _snapshot(environment: Any, t_s: float) -> StatsSnapshot:
    entries = environment.stats.entries
    ttft = entries.get((TTFT_ENTRY, LLM_REQUEST_TYPE))
    tpot = entries.get((TPOT_ENTRY, LLM_REQUEST_TYPE))
    http = [entry for (_, method), entry in entries.items() if method != LLM_REQUEST_TYPE]
    return StatsSnapshot(
        t_s=t_s,
        ttft_ms=dict(ttft.response_times) if ttft is not None else {},
        tpot_ms=dict(tpot.response_times) if tpot is not None else {},
        requests=sum(entry.num_requests for entry in http),
        failures=sum(entry.num_failures for entry in http),
    )


def _publisher() -> Callable[[Any, float, str], None] | None:
    try:
        from locustfiles.open_loop import publish_rate
    except ImportError:
        return None
    return publish_rate


def _worker_count(runner: Any) -> int:
    return max(1, int(getattr(runner, "worker_count", 1) or 1))


def _placeholder() -> Profile:
    from profiles.base import Stage

    return Profile(
        name="invalid", stages=(Stage(name="none", duration_s=1, target_start=0, target_end=0),)
    )
