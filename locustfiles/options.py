"""The load generator's Locust custom arguments and the frozen settings built from them.

``add_arguments`` registers every option on Locust's parser (they show in the web UI's start
form under "Custom parameters"); ``LoadOptions.from_namespace`` validates them once, at the
edge, into a frozen dataclass the rest of the package receives. The API key is not an option:
``--api-key-env`` names the environment variable that holds it, and only ``read_api_key``
looks it up.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from locustfiles.client_policy import RETRY_MODES, AbandonPolicy, RetryPolicy
from locustfiles.distribution import Distribution
from locustfiles.workload import Tier, WorkloadSpec

ARRIVALS: Final = ("closed", "poisson", "gamma", "constant")
TARGET_KINDS: Final = ("stub", "external")
SLO_METRICS: Final = ("ttft", "tpot", "e2e")


def add_arguments(parser: Any) -> None:
    """Register the options on Locust's ``LocustArgumentParser`` (or a plain argparse parser).

    Directly on the parser, not in an argument group: only the parser's own ``add_argument``
    marks an option for the web UI's start form.
    """
    add = parser.add_argument
    add("--model", default="", help="Model name (default: the first of GET <prefix>/models)")
    add("--api-prefix", default="/v1", help="API path after --host's (kept once if --host ends so)")
    add("--api-key-env", default="", help="NAME of the environment variable with the API key")
    add("--extra-headers", default="", help="Extra request headers 'Name: value; Name2: value2'")
    add("--no-stream", action="store_true", default=False, help="Non-streaming chat requests")
    add("--ignore-eos", action="store_true", default=False, help="Send ignore_eos (vLLM, stub)")
    add("--prompt-tokens", default="lognormal:512,0.5", help="Prompt length distribution")
    add("--output-tokens", default="lognormal:256,0.5", help="Output length distribution")
    add("--system-prompt-tokens", type=int, default=0, help="Shared system prompt length")
    add("--prompt-file", default="", help="JSONL prompts: {'prompt'|'messages', 'output_tokens'}")
    add("--turns", default="fixed:1", help="Turns per chat session (distribution)")
    add("--think-time-s", default="fixed:0", help="Think time between turns (distribution)")
    add("--max-context-tokens", type=int, default=8192, help="End a session beyond this")
    add("--tiers", default="", help="User tiers NAME:WEIGHT[:MAX_OUTPUT_TOKENS[:PRIORITY]],...")
    for metric in SLO_METRICS:
        # A dest without digits: Locust's start form mangles "p95" in field names
        # (slo_ttft_p95_ms comes back as slo_ttft_p9_5ms), which would drop the value.
        add(
            f"--slo-{metric}-p95-ms",
            dest=f"slo_{metric}_ms",
            type=float,
            default=0.0,
            help=f"{metric} p95 SLO in ms (0: none)",
        )
    add("--retry", choices=RETRY_MODES, default="none", help="Client retry behaviour")
    add("--max-retries", type=int, default=2, help="Retries per request (backoff, naive)")
    add("--abandon-after-s", type=float, default=0.0, help="Users give up after (0: never)")
    add("--request-timeout-s", type=float, default=600.0, help="Per-attempt timeout")
    add("--arrival", choices=ARRIVALS, default="closed", help="closed loop or open-loop process")
    add("--rate", type=float, default=0.0, help="Open loop: requests/s over all processes")
    add("--arrival-cv", type=float, default=1.0, help="Gamma arrivals: CV of gaps (1 = Poisson)")
    add("--max-in-flight", type=int, default=10000, help="Open loop: cap per process; drops above")
    add("--run-dir", default="", help="Run directory (default results/<run_id>)")
    add("--seed", type=int, default=0, help="Seed for every random draw")
    add("--target-kind", choices=TARGET_KINDS, default="external", help="For the manifest")
    add("--image-host", default="", help="Base URL of the image service (default --host)")
    add("--image-size", default="1024x1024", help="Image generation size")
    add("--image-model", default="", help="Images model (default: --image-host's, else --model)")
    add("--embedding-model", default="", help="Model for embeddings (default --model)")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    model: str
    api_prefix: str
    api_key_env: str
    extra_headers: tuple[tuple[str, str], ...]
    stream: bool
    ignore_eos: bool
    workload: WorkloadSpec
    think_time_s: Distribution
    slo_ms: Mapping[str, float]
    """``{"ttft_p95_ms": 2000.0, ...}``: only the SLOs that were set."""
    retry: RetryPolicy
    abandon: AbandonPolicy
    request_timeout_s: float
    arrival: str
    rate_rps: float
    arrival_cv: float
    max_in_flight: int
    run_dir: str
    seed: int
    target_kind: str
    image_host: str | None
    image_size: str
    image_model: str | None
    embedding_model: str | None

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace | Any) -> LoadOptions:
        """Validate the parsed options; errors name the option and the allowed values."""
        arrival = str(ns.arrival)
        if arrival not in ARRIVALS:
            raise ValueError(f"Unknown --arrival {arrival!r}; known: {', '.join(ARRIVALS)}")
        _positive("--rate", ns.rate, allow_zero=True)
        _positive("--arrival-cv", ns.arrival_cv)
        if str(ns.target_kind) not in TARGET_KINDS:
            raise ValueError(
                f"Unknown --target-kind {ns.target_kind!r}; known: {', '.join(TARGET_KINDS)}"
            )
        _positive("--request-timeout-s", ns.request_timeout_s)
        if int(ns.max_in_flight) < 1:
            raise ValueError(f"--max-in-flight must be >= 1, got {ns.max_in_flight}")
        if int(ns.system_prompt_tokens) < 0:
            raise ValueError(f"--system-prompt-tokens must be >= 0, got {ns.system_prompt_tokens}")
        slo = {
            f"{m}_p95_ms": float(getattr(ns, f"slo_{m}_ms"))
            for m in SLO_METRICS
            if float(getattr(ns, f"slo_{m}_ms")) > 0
        }
        prefix = str(ns.api_prefix).strip()
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"--api-prefix must start with '/', got {prefix!r}")
        workload = WorkloadSpec(
            prompt_tokens=Distribution.parse(ns.prompt_tokens),
            output_tokens=Distribution.parse(ns.output_tokens),
            system_prompt_tokens=int(ns.system_prompt_tokens),
            turns=Distribution.parse(ns.turns),
            max_context_tokens=int(ns.max_context_tokens),
            tiers=Tier.parse_list(ns.tiers),
            prompt_file=str(ns.prompt_file) or None,
            seed=int(ns.seed),
        )
        return cls(
            model=str(ns.model),
            api_prefix=prefix.rstrip("/"),
            api_key_env=str(ns.api_key_env).strip(),
            extra_headers=parse_headers(ns.extra_headers),
            stream=not bool(ns.no_stream),
            ignore_eos=bool(ns.ignore_eos),
            workload=workload,
            think_time_s=Distribution.parse(ns.think_time_s),
            slo_ms=slo,
            retry=RetryPolicy(mode=ns.retry, max_retries=int(ns.max_retries)),
            abandon=AbandonPolicy(float(ns.abandon_after_s) or None),
            request_timeout_s=float(ns.request_timeout_s),
            arrival=arrival,
            rate_rps=float(ns.rate),
            arrival_cv=float(ns.arrival_cv),
            max_in_flight=int(ns.max_in_flight),
            run_dir=str(ns.run_dir),
            seed=int(ns.seed),
            target_kind=str(ns.target_kind),
            image_host=str(ns.image_host).strip() or None,
            image_size=str(ns.image_size),
            image_model=str(ns.image_model) or None,
            embedding_model=str(ns.embedding_model) or None,
        )

    @property
    def open_loop(self) -> bool:
        return self.arrival != "closed"


def parse_headers(spec: str) -> tuple[tuple[str, str], ...]:
    """``'Name: value; Name2: value2'`` -> pairs; a part without ':' is an error."""
    pairs: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in str(spec).split(";"))):
        name, colon, value = part.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"Bad header {part!r} in --extra-headers; expected 'Name: value'")
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)


def read_api_key(env_name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The key from the named variable; None when no name was given. Never log the result."""
    if not env_name:
        return None
    source = os.environ if environ is None else environ
    key = source.get(env_name, "")
    if not key:
        raise ValueError(f"--api-key-env names {env_name!r}, but that variable is unset or empty")
    return key


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
