"""Image-generation engine: diffusion jobs of ``image_steps`` denoising steps each.

Jobs join a batch of up to ``image_max_batch`` at step boundaries (FCFS) and leave when
their own steps are done, so a burst of image requests queues exactly like GPU time does.
A job's result (the image) is ready only at its end, so TTFT equals E2E for images.
"""

from __future__ import annotations

from collections import deque

from target_stub.engine import (
    SEQ_DONE,
    SEQ_RUNNING,
    SEQ_WAITING,
    Clock,
    EngineCounters,
    EngineObserver,
    Sequence,
)
from target_stub.engine_config import EngineConfig
from target_stub.perf_model import image_step_time_ms


class ImageEngine:
    """Same interface as :class:`target_stub.engine.Engine` for ``kind = "image"`` presets."""

    replan_on_add = False

    def __init__(self, config: EngineConfig, *, clock: Clock, name: str = "engine-0") -> None:
        self.config = config
        self.name = name
        self._clock = clock
        self.running: list[Sequence] = []
        self.waiting: deque[Sequence] = deque()
        self.counters = EngineCounters()
        self.waiting_prompt_tokens = 0
        self.last_step_tokens = 0
        self._step_s = 0.0
        self.observer: EngineObserver | None = None
        self.total_blocks = config.kv_blocks
        self.free_blocks = config.kv_blocks

    @property
    def num_running(self) -> int:
        return len(self.running)

    @property
    def num_waiting(self) -> int:
        return len(self.waiting)

    @property
    def kv_usage_frac(self) -> float:
        return len(self.running) / self.config.image_max_batch

    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    def add(self, seq: Sequence) -> None:
        seq.arrival_s = self._clock()
        seq.state = SEQ_WAITING
        self.waiting.append(seq)
        self.waiting_prompt_tokens += seq.prompt_tokens

    def abort(self, seq: Sequence) -> None:
        if seq.state == SEQ_WAITING:
            self.waiting.remove(seq)
            self.waiting_prompt_tokens -= seq.prompt_tokens
        elif seq.state == SEQ_RUNNING:
            self.running.remove(seq)
        seq.state = SEQ_DONE

    def abort_all(self) -> list[Sequence]:
        victims = [*self.running, *self.waiting]
        self.running.clear()
        self.waiting.clear()
        self.waiting_prompt_tokens = 0
        for seq in victims:
            seq.state = SEQ_DONE
            self.counters.count_finish("abort")
            if self.observer is not None:
                self.observer.on_finished(self.name, seq, "abort")
            seq.sink.on_finish(seq, "abort")
        return victims

    def resize_kv(self, kv_capacity_tokens: int) -> None:
        """Images hold no KV cache; accepted so faults apply uniformly."""

    def plan_step(self) -> float | None:
        now = self._clock()
        while self.waiting and len(self.running) < self.config.image_max_batch:
            seq = self.waiting.popleft()
            self.waiting_prompt_tokens -= seq.prompt_tokens
            self.counters.prompt_tokens_total += seq.prompt_tokens
            seq.state = SEQ_RUNNING
            seq.first_scheduled_s = now
            self.running.append(seq)
        if not self.running:
            return None
        self.counters.steps_total += 1
        self.last_step_tokens = len(self.running)
        cfg = self.config
        duration_ms = image_step_time_ms(
            cfg.image_step_ms, len(self.running), cfg.image_batch_efficiency_frac
        )
        self._step_s = duration_ms / 1000.0
        self.counters.busy_s += self._step_s
        return self._step_s

    def complete_step(self) -> None:
        now = self._clock()
        if self.observer is not None:
            self.observer.on_step(self.name, self._step_s, len(self.running), 0)
        done: list[Sequence] = []
        for seq in self.running:
            seq.computed += 1  # denoising steps done
            if seq.computed >= self.config.image_steps:
                done.append(seq)
        for seq in done:
            if seq.state != SEQ_RUNNING:
                continue  # aborted by an earlier sink in this loop
            self.running.remove(seq)
            seq.state = SEQ_DONE
            seq.generated = seq.output_tokens
            seq.first_token_s = seq.finished_s = now
            self.counters.generation_tokens_total += seq.output_tokens
            self.counters.count_finish("stop")
            if self.observer is not None:
                self.observer.on_first_token(self.name, seq)
                self.observer.on_finished(self.name, seq, "stop")
            seq.sink.on_finish(seq, "stop")
