"""Per-Locust-process state, attached to the Locust ``Environment`` (never a module global).

``ProcessState`` is created at Locust's ``init`` event and filled at ``test_start`` once the
run context (run id, run directory, shared t0) is known: decided by the master or the local
runner, sent to workers before their users start. Users, the open-loop generator and
``publish_rate`` reach it through ``state_of(environment)``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from locustfiles.api_request import RequestStyle
from locustfiles.connection import ConnectionPool
from locustfiles.health import HealthLedger
from locustfiles.llm_client import ClientSettings, DeadlineGuard, LlmClient
from locustfiles.options import LoadOptions
from locustfiles.recorder import RecordSink
from locustfiles.records import RequestRecord
from locustfiles.response_reader import StreamReader, read_stream
from locustfiles.timing import RunClock
from locustfiles.workload import Workload

_ATTR: Final = "_surgebench_state"

Role = Literal["local", "master", "worker"]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every process of one run must agree on; crosses the master -> worker channel."""

    run_id: str
    run_dir: str
    t0_epoch_s: float

    def to_message(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run_dir": self.run_dir, "t0_epoch_s": self.t0_epoch_s}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> RunContext:
        return cls(str(data["run_id"]), str(data["run_dir"]), float(data["t0_epoch_s"]))


class ProcessState:
    """Everything one Locust process needs to generate and record load for the current run."""

    def __init__(self, environment: Any, role: Role) -> None:
        self.environment = environment
        self.role: Role = role
        self.process_id: str = role
        self.context: RunContext | None = None
        self.run_id: str | None = None
        self.run_dir: Path | None = None  # known before t0 (the coordinator decides t0 last)
        self.options: LoadOptions | None = None
        self.clock: RunClock | None = None
        self.profile: Any = None
        self.open_loop = False  # --arrival other than closed, or a rate-mode profile
        self.ledger = HealthLedger()
        self.ids = itertools.count()
        self.sink: RecordSink | None = None
        self.pool: ConnectionPool | None = None
        self.image_pool: ConnectionPool | None = None
        self.workload: Workload | None = None
        self.style: RequestStyle | None = None
        self.settings: ClientSettings | None = None
        self.deadline_guard: DeadlineGuard | None = None
        self.stream_reader: StreamReader = read_stream
        self.total_rate_rps: float | None = None  # master/local: last published total
        self.process_rate_rps = 0.0  # this process's share of the open-loop rate
        self.process_fraction = 0.0  # ... as a fraction of the total (1 / processes)
        self.pushed_stage: str | None = None
        self.generator: Any = None
        self.background: list[Any] = []
        self.user_seq = itertools.count()

    @property
    def profile_adaptive(self) -> bool:
        """An adaptive profile (``search``) changes its stages as it runs: only the master knows."""
        return self.profile is not None and self.profile.name == "search"

    def stage_at(self, t_s: float) -> str | None:
        """Profile stage at run time ``t_s``, computed from this process's copy of the profile
        (profiles are pure and every process shares t0); for adaptive profiles, or without a
        profile, the stage the master pushed last (at most about a second old)."""
        if self.profile is not None and (self.role != "worker" or not self.profile_adaptive):
            stage = self.profile.stage_at(t_s)
            return None if stage is None else str(stage.name)
        return self.pushed_stage

    def record(self, record: RequestRecord, live: bool = True) -> None:
        if self.sink is not None:
            self.sink.add(record, live=live)

    def client(self, rng: random.Random) -> LlmClient:
        """A client sharing this process's connection pool, clock, ids and record sink."""
        assert self.pool is not None and self.settings is not None and self.clock is not None
        return LlmClient(
            pool=self.pool,
            image_pool=self.image_pool,
            settings=self.settings,
            clock=self.clock,
            rng=rng,
            process_id=self.process_id,
            stage_at=self.stage_at,
            ids=self.ids,
            sink=self.record,
            deadline_guard=self.deadline_guard,
            stream_reader=self.stream_reader,
        )

    def ready(self) -> bool:
        return self.workload is not None and self.pool is not None


def attach_state(environment: Any, state: ProcessState) -> None:
    setattr(environment, _ATTR, state)


def state_of(environment: Any) -> ProcessState:
    state = getattr(environment, _ATTR, None)
    if not isinstance(state, ProcessState):
        raise RuntimeError(
            "surgebench state missing: load an entry file (locustfiles/chat.py or mixed.py)"
        )
    return state
