"""``GET /metrics``: Prometheus text exposition with vLLM's names and buckets, plus the fleet.

Per replica (labels ``model_name`` and ``engine``, the replica index, as vLLM labels its
engine cores): the gauges ``vllm:num_requests_running``, ``vllm:num_requests_waiting``,
``vllm:kv_cache_usage_perc`` (a fraction, as in vLLM) and the older
``vllm:gpu_cache_usage_perc``; the counters ``vllm:prompt_tokens_total``,
``vllm:generation_tokens_total``, ``vllm:num_preemptions_total`` and
``vllm:request_success_total{finished_reason}``; and vLLM's histograms with vLLM's bucket
bounds (vllm/v1/metrics/loggers.py). Fleet series use the ``surgebench:`` prefix.

Cheap on the hot path: gauges and counters are read from the engines at scrape time; the
histograms are fed by one :class:`ReplicaMetrics` observer per engine, called once per
engine step, once per request at its first output and once per finished request, never
per token. As in vLLM, ``vllm:time_to_first_token_seconds`` is observed when the first
output is produced (an image's or embedding's is its whole result), so a scrape during a
long stream already holds that request's TTFT, and a request aborted or killed after its
first token keeps it; one that ends before its first token has none. The other request
histograms are observed when the request finishes; aborted requests are counted, not timed.
One documented difference from vLLM: ``vllm:inter_token_latency_seconds`` gets each
request's mean gap, ``generated - 1`` times, so its ``_sum`` and ``_count`` equal vLLM's
exactly while its buckets are smoothed within a request.
Times are seconds on the engine clock; TTFT and E2E include the replica's frontend delay.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence

from aiohttp import web

from target_stub.autoscaler import DECISION_KINDS
from target_stub.cluster import Fleet
from target_stub.engine import EngineCounters, FinishReason
from target_stub.engine import Sequence as EngineSequence
from target_stub.engines import AnyEngine
from target_stub.fault_injector import FaultInjector
from target_stub.faults import FAULT_KINDS
from target_stub.replica import REPLICA_STATES, Replica

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Bucket bounds copied from vLLM's PrometheusStatLogger so vLLM dashboards work unchanged.
TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS_S = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0,
)  # fmt: skip
REQUEST_LATENCY_BUCKETS_S = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
    240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
ITERATION_TOKENS_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
FINISH_REASONS: tuple[FinishReason, ...] = ("stop", "length", "abort")
KNOWN_REJECTIONS = ("no_ready_replica", "injected_error")


def buckets_1_2_5(max_value: int) -> tuple[int, ...]:
    """vLLM's ``build_1_2_5_buckets``: 1, 2, 5, 10, 20, 50, ... up to ``max_value``."""
    out: list[int] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * scale > max_value:
                return tuple(out)
            out.append(mantissa * scale)
        scale *= 10


class Histogram:
    """Cumulative-on-render Prometheus histogram (``le`` bounds are inclusive)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float, n: int = 1) -> None:
        self.counts[bisect_left(self.bounds, value)] += n
        self.total += value * n

    @property
    def count(self) -> int:
        return sum(self.counts)


_HISTOGRAMS: tuple[tuple[str, str], ...] = (
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds."),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds."),
    (
        "vllm:request_time_per_output_token_seconds",
        "Histogram of time_per_output_token_seconds per request.",
    ),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds."),
    ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request."),
    ("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase."),
    ("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase."),
    ("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase."),
    ("vllm:request_prompt_tokens", "Number of prefill tokens processed."),
    ("vllm:request_generation_tokens", "Number of generation tokens processed."),
    ("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step."),
)


_ENGINE_GAUGES: tuple[tuple[str, str, Callable[[AnyEngine], float]], ...] = (
    (
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        lambda e: e.num_running,
    ),
    (
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        lambda e: e.num_waiting,
    ),
    (
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        lambda e: e.kv_usage_frac,
    ),
    (
        "vllm:gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage. DEPRECATED: use vllm:kv_cache_usage_perc.",
        lambda e: e.kv_usage_frac,
    ),
)
_ENGINE_COUNTERS: tuple[tuple[str, str, Callable[[EngineCounters], float]], ...] = (
    (
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        lambda c: c.prompt_tokens_total,
    ),
    (
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        lambda c: c.generation_tokens_total,
    ),
    (
        "vllm:num_preemptions_total",
        "Cumulative number of preemption from the engine.",
        lambda c: c.preemptions_total,
    ),
)


class ReplicaMetrics:
    """The :class:`~target_stub.engine.EngineObserver` of one engine: its histograms."""

    def __init__(self, *, frontend_s: float, max_model_len_tokens: int) -> None:
        self.frontend_s = frontend_s
        tokens = buckets_1_2_5(max_model_len_tokens)
        self.histograms: dict[str, Histogram] = {
            "vllm:time_to_first_token_seconds": Histogram(TTFT_BUCKETS_S),
            "vllm:inter_token_latency_seconds": Histogram(ITL_BUCKETS_S),
            "vllm:request_time_per_output_token_seconds": Histogram(ITL_BUCKETS_S),
            "vllm:e2e_request_latency_seconds": Histogram(REQUEST_LATENCY_BUCKETS_S),
            "vllm:request_queue_time_seconds": Histogram(REQUEST_LATENCY_BUCKETS_S),
            "vllm:request_inference_time_seconds": Histogram(REQUEST_LATENCY_BUCKETS_S),
            "vllm:request_prefill_time_seconds": Histogram(REQUEST_LATENCY_BUCKETS_S),
            "vllm:request_decode_time_seconds": Histogram(REQUEST_LATENCY_BUCKETS_S),
            "vllm:request_prompt_tokens": Histogram(tokens),
            "vllm:request_generation_tokens": Histogram(tokens),
            "vllm:iteration_tokens_total": Histogram(ITERATION_TOKENS_BUCKETS),
        }
        h = self.histograms
        self._ttft = h["vllm:time_to_first_token_seconds"]
        self._itl = h["vllm:inter_token_latency_seconds"]
        self._tpot = h["vllm:request_time_per_output_token_seconds"]
        self._e2e = h["vllm:e2e_request_latency_seconds"]
        self._queue = h["vllm:request_queue_time_seconds"]
        self._inference = h["vllm:request_inference_time_seconds"]
        self._prefill = h["vllm:request_prefill_time_seconds"]
        self._decode = h["vllm:request_decode_time_seconds"]
        self._prompt = h["vllm:request_prompt_tokens"]
        self._generation = h["vllm:request_generation_tokens"]
        self._iteration = h["vllm:iteration_tokens_total"]

    def on_step(self, engine: str, duration_s: float, tokens: int, decoded: int) -> None:
        self._iteration.observe(tokens)

    def on_first_token(self, engine: str, seq: EngineSequence) -> None:
        if seq.first_token_s is not None:
            self._ttft.observe(seq.first_token_s - seq.arrival_s + self.frontend_s)

    def on_finished(self, engine: str, seq: EngineSequence, reason: FinishReason) -> None:
        if reason == "abort" or seq.finished_s is None:
            return
        arrival = seq.arrival_s
        scheduled = seq.first_scheduled_s if seq.first_scheduled_s is not None else arrival
        first = seq.first_token_s if seq.first_token_s is not None else seq.finished_s
        self._e2e.observe(seq.finished_s - arrival + self.frontend_s)
        self._queue.observe(scheduled - arrival)
        self._inference.observe(seq.finished_s - scheduled)
        self._prefill.observe(first - scheduled)
        decode_s = seq.finished_s - first
        self._decode.observe(decode_s)
        self._prompt.observe(seq.prompt_tokens)
        self._generation.observe(seq.generated)
        if seq.generated >= 2:
            gap_s = decode_s / (seq.generated - 1)
            self._itl.observe(gap_s, seq.generated - 1)
            self._tpot.observe(gap_s)


class FleetMetrics:
    """Renders the whole exposition for one fleet."""

    def __init__(self, fleet: Fleet, faults: FaultInjector | None = None) -> None:
        self.fleet = fleet
        self.faults = faults
        self.model = fleet.engine_config.model
        self.replicas: dict[int, ReplicaMetrics] = {}
        fleet.add_replica_listener(self._attach)

    def _attach(self, replica: Replica) -> None:
        observer = ReplicaMetrics(
            frontend_s=replica.runner.frontend_s,
            max_model_len_tokens=replica.engine.config.max_model_len_tokens,
        )
        replica.engine.observer = observer
        self.replicas[replica.index] = observer

    def render(self) -> str:
        out = _Exposition(model=self.model)
        replicas = self.fleet.replicas
        self._engine_gauges(out, replicas)
        self._engine_counters(out, replicas)
        for name, doc in _HISTOGRAMS:
            out.family(name, "histogram", doc)
            for replica in replicas:
                out.histogram(
                    name, {"engine": replica.label}, self.replicas[replica.index].histograms[name]
                )
        self._fleet_series(out, replicas)
        return out.text()

    def _engine_gauges(self, out: _Exposition, replicas: Sequence[Replica]) -> None:
        for name, doc, read in _ENGINE_GAUGES:
            out.family(name, "gauge", doc)
            for r in replicas:
                out.sample(name, {"engine": r.label}, read(r.engine))

    def _engine_counters(self, out: _Exposition, replicas: Sequence[Replica]) -> None:
        for name, doc, read in _ENGINE_COUNTERS:
            out.family(name, "counter", doc)
            for r in replicas:
                out.sample(name, {"engine": r.label}, read(r.engine.counters))
        name = "vllm:request_success_total"
        out.family(name, "counter", "Count of successfully processed requests.")
        for r in replicas:
            finished = r.engine.counters.finished_total
            for reason in FINISH_REASONS:
                value = finished.get(reason, 0)
                if reason == "abort":
                    value += r.client_aborts_total
                out.sample(name, {"engine": r.label, "finished_reason": reason}, value)

    def _fleet_series(self, out: _Exposition, replicas: Sequence[Replica]) -> None:
        fleet = self.fleet
        out.family("surgebench:replicas", "gauge", "Replicas by lifecycle state.")
        for state in REPLICA_STATES:
            out.sample("surgebench:replicas", {"state": state}, fleet.count(state))
        name = "surgebench:replica_ready"
        out.family(name, "gauge", "1 if the replica is routed to (a stalled one still is).")
        for r in replicas:
            out.sample(name, {"engine": r.label}, 1 if r.state == "ready" else 0)
        name = "surgebench:router_requests_total"
        out.family(name, "counter", "Requests the router sent to each replica.")
        for r in replicas:
            out.sample(name, {"engine": r.label, "router": fleet.router.name}, r.routed_total)
        name = "surgebench:rejections_total"
        out.family(name, "counter", "Requests refused before reaching an engine, by reason.")
        for reason in sorted({*KNOWN_REJECTIONS, *fleet.rejections}):
            out.sample(name, {"reason": reason}, fleet.rejections.get(reason, 0))
        name = "surgebench:autoscaler_decisions_total"
        out.family(name, "counter", "Autoscaler decisions by action and reason.")
        decisions = fleet.autoscaler.decisions_total
        for action, reason in DECISION_KINDS:
            value = decisions.get((action, reason), 0)
            out.sample(name, {"action": action, "reason": reason}, value)
        self._fault_series(out)

    def _fault_series(self, out: _Exposition) -> None:
        faults = self.faults
        name = "surgebench:faults_applied_total"
        out.family(name, "counter", "Faults that took effect, by kind.")
        for kind in FAULT_KINDS:
            value = faults.applied_total.get(kind, 0) if faults is not None else 0
            out.sample(name, {"kind": kind}, value)
        name = "surgebench:faults_active"
        out.family(name, "gauge", "Faults in effect, by kind and target replica.")
        active = faults.active_counts() if faults is not None else {}
        for kind in FAULT_KINDS:
            if not any(k == kind for k, _ in active):
                out.sample(name, {"kind": kind, "engine": "all"}, 0)
        for (kind, target), value in sorted(active.items()):
            out.sample(name, {"kind": kind, "engine": target}, value)


class _Exposition:
    """Prometheus text format 0.0.4, as prometheus_client writes it (no ``_created``)."""

    def __init__(self, *, model: str) -> None:
        self._model = _escape(model)
        self._lines: list[str] = []

    def family(self, name: str, kind: str, doc: str) -> None:
        self._lines.append(f"# HELP {name} {doc}")
        self._lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: dict[str, str], value: float) -> None:
        self._lines.append(f"{name}{{{self._labels(labels)}}} {float(value)!r}")

    def histogram(self, name: str, labels: dict[str, str], hist: Histogram) -> None:
        base = self._labels(labels)
        cumulative = 0
        for bound, n in zip((*hist.bounds, None), hist.counts, strict=True):
            cumulative += n
            le = "+Inf" if bound is None else repr(bound)
            self._lines.append(f'{name}_bucket{{{base},le="{le}"}} {float(cumulative)!r}')
        self._lines.append(f"{name}_count{{{base}}} {float(cumulative)!r}")
        self._lines.append(f"{name}_sum{{{base}}} {hist.total!r}")

    def _labels(self, labels: dict[str, str]) -> str:
        parts = [f'model_name="{self._model}"']
        parts.extend(f'{key}="{_escape(value)}"' for key, value in labels.items())
        return ",".join(parts)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def register(app: web.Application, metrics_of: Callable[[], FleetMetrics]) -> None:
    """Add ``GET /metrics`` to ``app``; ``metrics_of`` returns the running fleet's metrics
    (the fleet starts with the app's loop, after routes are fixed)."""

    async def handle(request: web.Request) -> web.Response:
        text = metrics_of().render()
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", handle)
