"""A what-if set up like a measured run against the stub, to re-run it with other numbers.

``setup_from_run(run)`` collects from a run directory everything ``whatif.predict`` needs to
replay the run's conditions in simulated time:

- the stub: ``stub_config`` (the manifest's, else ``stub_config.json``; ``io.load_run``
  fills it in): engine, replicas, router and waiting-queue bound;
- the profile: rebuilt from the manifest's ``profile`` entry (stages, events, seed and time
  scale as run);
- the workload: (prompt, output) token pairs of the run's successful requests (the server's
  counts: the output length the stub drew, the prompt with its chat template), and the
  manifest's ``workload`` section: arrival kind and CV (a rate profile with ``arrival =
  closed`` ran Poisson), ``max_in_flight`` (per load-generator process) and think time.

Change ``replicas`` or the profile in ``RunSetup.predict`` to ask "what if".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from analysis.client_sim import QueueBound
from analysis.io import RunData
from analysis.latency import OK, classify_outcomes
from analysis.slo import Slo
from analysis.whatif import ClientModel, WhatIf, engine_config_from_stub, predict
from locustfiles.distribution import Distribution
from profiles.arrivals import ARRIVAL_KINDS, ArrivalKind
from profiles.base import Profile
from target_stub.engine_config import EngineConfig


@dataclass(frozen=True)
class RunSetup:
    config: EngineConfig
    replicas: int
    router: str
    queue: QueueBound
    clients: ClientModel
    profile: Profile
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    arrivals_s: tuple[float, ...] | None
    """Open loop: the intended start times the run offered (its records'); else None."""

    def predict(
        self,
        slo: Slo,
        *,
        replicas: int | None = None,
        profile: Profile | None = None,
        seed: int = 0,
        replications: int = 1,
        same_arrivals: bool = False,
    ) -> WhatIf:
        """The run's conditions, with ``replicas`` and ``profile`` replaced when given.

        ``same_arrivals``: replay the arrivals the run offered (open loop, own profile)
        instead of drawing new ones from the profile: one run's arrivals are one draw, and
        a short run's percentiles move with the draw (docs/analysis.md, "What-if").
        """
        if same_arrivals and (profile is not None or self.arrivals_s is None):
            raise ValueError(
                "same_arrivals needs the run's own profile and an open-loop run "
                "(recorded intended start times)"
            )
        return predict(
            self.config,
            profile or self.profile,
            slo,
            replicas=replicas or self.replicas,
            prompt_tokens=self.prompt_tokens.tolist(),
            output_tokens=self.output_tokens.tolist(),
            seed=seed,
            router=self.router,
            clients=self.clients,
            queue=self.queue,
            replications=replications,
            arrivals_s=self.arrivals_s if same_arrivals else None,
        )


def setup_from_run(run: RunData) -> RunSetup:
    """ValueError naming what is missing when the run was not against the stub, had no
    profile, or has no successful request with a prompt length."""
    manifest = run.manifest
    stub = manifest.stub_config
    if not stub:
        raise ValueError(
            f"run {manifest.run_id!r} has no stub config (manifest stub_config or "
            "stub_config.json): a what-if needs the stub's settings"
        )
    if manifest.profile is None or not manifest.profile.model_extra:
        raise ValueError(f"run {manifest.run_id!r} has no profile in its manifest")
    entry = manifest.profile.model_dump()
    entry.pop("duration_s", None)
    profile = Profile.model_validate(entry)
    requests = run.requests
    ok = (classify_outcomes(requests) == OK) & np.isfinite(requests["prompt_tokens"].to_numpy())
    if not ok.any():
        raise ValueError(f"run {manifest.run_id!r} has no successful request with a prompt length")
    workload = _mapping(manifest.model_extra.get("workload") if manifest.model_extra else None)
    processes = manifest.loadgen.processes if manifest.loadgen else None
    overload = _mapping(stub.get("overload"))
    return RunSetup(
        config=engine_config_from_stub(stub),
        replicas=int(stub.get("replicas", 1)),
        router=str(stub.get("router", "least_outstanding")),
        queue=QueueBound(
            max_waiting_requests=overload.get("max_waiting_requests"),
            max_waiting_tokens=overload.get("max_waiting_tokens"),
            reject_status=int(overload.get("reject_status", 503)),
        ),
        clients=client_model(workload, processes=processes or 1),
        profile=profile,
        prompt_tokens=requests["prompt_tokens"].to_numpy()[ok].astype(np.int64),
        output_tokens=requests["output_tokens"].to_numpy()[ok].astype(np.int64),
        arrivals_s=_arrivals(requests["t_intended_s"].to_numpy(), profile),
    )


def client_model(workload: Mapping[str, Any], *, processes: int = 1) -> ClientModel:
    """The load generator's sending behaviour from the manifest's ``workload`` section."""
    arrival = str(workload.get("arrival") or "closed")
    kind = cast(ArrivalKind, arrival if arrival in ARRIVAL_KINDS else "poisson")
    cv = workload.get("arrival_cv")
    cap = workload.get("max_in_flight")
    think = workload.get("think_time_s")
    think_time = Distribution.parse(str(think)) if think else None
    if think_time is not None and think_time.kind == "fixed" and think_time.params[0] == 0:
        think_time = None
    return ClientModel(
        arrival=kind,
        arrival_cv=float(cv) if isinstance(cv, int | float) else 1.0,
        max_in_flight=int(cap) * processes if isinstance(cap, int) else None,
        think_time=think_time,
    )


def _arrivals(intended_s: npt.NDArray[np.float64], profile: Profile) -> tuple[float, ...] | None:
    """Intended start times (dropped arrivals included: they were offered too)."""
    if profile.mode != "rate":
        return None
    times = np.sort(intended_s[np.isfinite(intended_s)])
    return tuple(times.tolist()) if times.size else None


def _mapping(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}
