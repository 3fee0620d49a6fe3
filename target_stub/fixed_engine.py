"""An engine with exact, load-independent timing, for measuring the load generator.

Each request gets its first token ``fixed_ttft_ms`` after it arrives and one more every
``fixed_itl_ms``, however many run at once: the truth against which the client's
measured TTFT and ITL are checked. Due times are computed from the arrival time, so a
late timer never accumulates drift. One timer per step (the earliest due time), as in
:class:`target_stub.engine.Engine`.
"""

from __future__ import annotations

import heapq
import itertools

from target_stub.engine import (
    SEQ_DONE,
    SEQ_RUNNING,
    Clock,
    EngineCounters,
    EngineObserver,
    FinishReason,
    Sequence,
)
from target_stub.engine_config import EngineConfig

# Tokens due within this window of the timer are emitted together (timer granularity).
_DUE_SLACK_S = 0.0002


class FixedLatencyEngine:
    """Same interface as :class:`target_stub.engine.Engine`; timing from the config only."""

    replan_on_add = True

    def __init__(self, config: EngineConfig, *, clock: Clock, name: str = "engine-0") -> None:
        assert config.fixed_ttft_ms is not None and config.fixed_itl_ms is not None
        self.config = config
        self.name = name
        self._clock = clock
        self._ttft_s = config.fixed_ttft_ms / 1000.0
        self._itl_s = config.fixed_itl_ms / 1000.0
        self._due: list[tuple[float, int, Sequence]] = []
        self._order = itertools.count()
        # Insertion-ordered set of unfinished sequences: abort_all must reach a sequence
        # even while complete_step holds it outside the heap (a sink calling abort_all).
        self._live: dict[Sequence, None] = {}
        self.counters = EngineCounters()
        self.waiting_prompt_tokens = 0
        self.last_step_tokens = 0
        self.observer: EngineObserver | None = None
        self.total_blocks = config.kv_blocks
        self.free_blocks = config.kv_blocks

    @property
    def num_running(self) -> int:
        return len(self._live)

    @property
    def num_waiting(self) -> int:
        return 0

    @property
    def kv_usage_frac(self) -> float:
        return 0.0

    def has_work(self) -> bool:
        return bool(self._live)

    def add(self, seq: Sequence) -> None:
        seq.arrival_s = now = self._clock()
        seq.first_scheduled_s = now
        seq.state = SEQ_RUNNING
        self._live[seq] = None
        self.counters.prompt_tokens_total += seq.prompt_tokens
        heapq.heappush(self._due, (now + self._ttft_s, next(self._order), seq))

    def abort(self, seq: Sequence) -> None:
        if seq.state == SEQ_RUNNING:
            seq.state = SEQ_DONE
            del self._live[seq]  # its heap entry is skipped lazily

    def abort_all(self) -> list[Sequence]:
        victims = list(self._live)
        self._due.clear()
        self._live.clear()
        for seq in victims:
            seq.state = SEQ_DONE
            self.counters.count_finish("abort")
            if self.observer is not None:
                self.observer.on_finished(self.name, seq, "abort")
            seq.sink.on_finish(seq, "abort")
        return victims

    def resize_kv(self, kv_capacity_tokens: int) -> None:
        """No KV model in fixed timing; accepted so faults apply uniformly."""

    def plan_step(self) -> float | None:
        due = self._due
        while due and due[0][2].state != SEQ_RUNNING:
            heapq.heappop(due)
        if not due:
            return None
        return max(0.0, due[0][0] - self._clock())

    def complete_step(self) -> None:
        now = self._clock()
        due = self._due
        emitted = 0
        while due and due[0][0] <= now + _DUE_SLACK_S:
            t_due, _, seq = heapq.heappop(due)
            if seq.state != SEQ_RUNNING:
                continue
            if seq.first_token_s is None:
                seq.first_token_s = now  # an image's or embedding's one output: the result
                if self.observer is not None:
                    self.observer.on_first_token(self.name, seq)
            if seq.kind != "text":
                self._finish(seq, now, "stop")
                continue
            seq.generated += 1
            emitted += 1
            seq.sink.on_tokens(seq, 1)
            if seq.state != SEQ_RUNNING:
                continue  # the sink aborted it (client gone)
            if seq.generated >= seq.output_tokens:
                self._finish(seq, now, seq.finish_reason)
            else:
                heapq.heappush(due, (t_due + self._itl_s, next(self._order), seq))
        self.counters.generation_tokens_total += emitted
        self.counters.steps_total += 1
        self.last_step_tokens = emitted
        if self.observer is not None and emitted:
            self.observer.on_step(self.name, 0.0, emitted, emitted)

    def _finish(self, seq: Sequence, now: float, reason: FinishReason) -> None:
        seq.finished_s = now
        seq.state = SEQ_DONE
        del self._live[seq]
        self.counters.count_finish(reason)
        if self.observer is not None:
            self.observer.on_finished(self.name, seq, reason)
        seq.sink.on_finish(seq, reason)
