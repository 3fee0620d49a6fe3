"""The client side of a Locust process: connection pool, workload, record sink, open loop.

Built at ``test_start`` in every process that sends requests (the local runner or a worker),
from the validated options; the API key is read here from the variable ``--api-key-env``
names, put into the Authorization header, and never written or logged.
"""

from __future__ import annotations

import itertools
import logging
import random

import gevent

from locustfiles.api_request import ROUTES, ApiCall, RequestStyle
from locustfiles.connection import ConnectError, ConnectionPool, Endpoint, api_endpoint, get_json
from locustfiles.llm_client import ClientSettings
from locustfiles.loop_reader import read_stream_in_loop
from locustfiles.open_loop import CallFactory, OpenLoopGenerator
from locustfiles.options import LoadOptions, read_api_key
from locustfiles.recorder import RecordSink
from locustfiles.runtime import ProcessState
from locustfiles.workload import Workload, load_prompt_file

logger = logging.getLogger(__name__)


def open_loop_active(state: ProcessState) -> bool:
    assert state.options is not None
    rate_profile = state.profile is not None and state.profile.mode == "rate"
    return state.options.open_loop or rate_profile


def start_requests(state: ProcessState, options: LoadOptions) -> None:
    env = state.environment
    if not env.host:
        raise ValueError("no target: pass --host (the base URL, e.g. http://127.0.0.1:8000)")
    endpoint = api_endpoint(env.host, options.api_prefix)
    headers = request_headers(options)
    model = resolve_model(options, endpoint, headers)
    state.deadline_guard = gevent_deadline
    state.stream_reader = read_stream_in_loop
    state.settings = ClientSettings(
        headers=tuple(headers),
        request_timeout_s=options.request_timeout_s,
        retry=options.retry,
        abandon=options.abandon,
    )
    connect_timeout_s = min(10.0, options.request_timeout_s)
    state.pool = ConnectionPool(endpoint, connect_timeout_s=connect_timeout_s)
    image_endpoint = (
        api_endpoint(options.image_host, options.api_prefix) if options.image_host else endpoint
    )
    if options.image_host:
        state.image_pool = ConnectionPool(image_endpoint, connect_timeout_s=connect_timeout_s)
    spec = options.workload
    corpus = load_prompt_file(spec.prompt_file) if spec.prompt_file else ()
    state.workload = Workload(spec, corpus=corpus)
    image_model = options.image_model
    if options.image_host and not image_model:
        image_model = resolve_model(options, image_endpoint, headers, model="")
    state.style = RequestStyle(
        model=model,
        stream=options.stream,
        ignore_eos=options.ignore_eos,
        image_size=options.image_size,
        image_model=image_model,
        embedding_model=options.embedding_model,
    )
    paths = {name: endpoint.path_prefix + state.style.path(name) for name in ROUTES}
    paths["images"] = image_endpoint.path_prefix + state.style.path("images")
    assert state.run_dir is not None
    sink_path = state.run_dir / "requests" / f"{state.process_id}.jsonl"
    state.sink = RecordSink(sink_path, fire=env.events.request.fire, paths=paths)
    state.ids = itertools.count()


def start_generator(state: ProcessState, options: LoadOptions) -> None:
    """Open loop only: the arrival generator (needs the run clock, so it starts after t0)."""
    if not state.open_loop:
        return
    if options.arrival == "closed":
        logger.info("rate-mode profile with --arrival closed: using Poisson arrivals")
    kind = "poisson" if options.arrival == "closed" else options.arrival
    worker_index = max(int(getattr(state.environment.runner, "worker_index", 0)), 0)
    generator = OpenLoopGenerator(
        state=state,
        client=state.client(_seeded(options.seed, state.process_id)),
        call_factory=_call_factory(state),
        kind=kind,
        cv=options.arrival_cv,
        seed_key=(options.seed, worker_index),
        max_in_flight=options.max_in_flight,
    )
    state.generator = generator
    generator.start()


def gevent_deadline(seconds: float) -> gevent.Timeout:
    """One gevent timer per request attempt, raising TimeoutError (see ``DeadlineGuard``)."""
    return gevent.Timeout(seconds, TimeoutError("request deadline"))


def request_headers(options: LoadOptions) -> list[tuple[str, str]]:
    """Authorization (from the named variable) and the extra headers. Never log these."""
    headers: list[tuple[str, str]] = []
    key = read_api_key(options.api_key_env)
    if key is not None:
        headers.append(("Authorization", f"Bearer {key}"))
    headers.extend(options.extra_headers)
    return headers


def manifest_model(options: LoadOptions, endpoint: Endpoint) -> str | None:
    """The model for the manifest; the master may lack the key, so discovery is best effort."""
    try:
        return resolve_model(options, endpoint, request_headers(options))
    except ValueError as exc:
        logger.info("model for the manifest unknown: %s", exc)
        return options.model or None


def resolve_model(
    options: LoadOptions,
    endpoint: Endpoint,
    headers: list[tuple[str, str]],
    *,
    model: str | None = None,
) -> str:
    """``model`` (default ``--model``), else the first model ``endpoint`` lists at
    ``<prefix>/models``."""
    chosen = options.model if model is None else model
    if chosen:
        return chosen
    path = "/models"
    try:
        status, body = get_json(endpoint, path, dict(headers), timeout_s=10.0)
    except (ConnectError, OSError, ValueError) as exc:
        raise ValueError(
            f"--model not given and GET {endpoint.display_url}{path} failed: {exc}"
        ) from exc
    data = body.get("data") if isinstance(body, dict) else None
    if status != 200 or not isinstance(data, list) or not data or "id" not in data[0]:
        raise ValueError(
            f"--model not given and GET {endpoint.display_url}{path} answered {status} "
            "without models"
        )
    return str(data[0]["id"])


def _seeded(seed: int, process_id: str) -> random.Random:
    return random.Random(f"{seed}-{process_id}-open-loop-client")


def _call_factory(state: ProcessState) -> CallFactory:
    classes = [cls for cls in state.environment.user_classes if hasattr(cls, "open_loop_call")]
    if not classes:
        raise ValueError("open loop needs at least one surgebench user class in the locustfile")
    weights = [max(float(getattr(cls, "weight", 1) or 1), 0.0) for cls in classes]

    def factory(rng: random.Random) -> ApiCall:
        cls = rng.choices(classes, weights=weights)[0] if len(classes) > 1 else classes[0]
        call: ApiCall = cls.open_loop_call(state, rng)
        return call

    return factory
