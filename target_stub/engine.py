"""Continuous-batching engine of one emulated replica (pure; injected clock; no asyncio).

Scheduling follows vLLM's chunked-prefill policy:

1. Decodes first: every running sequence that needs exactly one more token gets it,
   oldest first.
2. Then running sequences part-way through a (chunked) prefill or a recompute get the
   rest of their tokens within the step's token budget (``max_num_batched_tokens``),
   oldest first.
3. When a running sequence needs a KV block and none is free, the *newest* running
   sequence is preempted by recompute: its blocks are freed, it returns to the front of
   the waiting queue and must prefill prompt + generated tokens again
   (``vllm:num_preemptions_total``).
4. Waiting sequences are admitted FCFS while the budget, ``max_num_seqs`` and free KV
   blocks allow, with chunked prefill (a long prompt is spread over several steps); not
   in a step that had to preempt.

A :class:`SchedulerPolicy` can emulate vLLM 0.6 (the generation several published
measurements were taken with, docs/CALIBRATION.md): ``chunked_prefill=False`` is V0's
default policy (a step of whole prompts only while waiting requests fit; decodes wait),
and ``scheduler_steps`` > 1 is multi-step scheduling (``--num-scheduler-steps``): the
queue is looked at only every ``scheduler_steps`` decode steps, so a new request waits
for the current multi-step run to end (why vLLM 0.6's median TTFT was about 3x SGLang's
in sgl-project/sglang benchmark/benchmark_vllm_060). Multi-step's bursty streaming
(tokens delivered ``scheduler_steps`` at a time) is not emulated.

A driver calls :meth:`Engine.plan_step` at time ``t`` (it returns the step duration ``d``
from :mod:`target_stub.perf_model`) and :meth:`Engine.complete_step` at ``t + d``, which
advances the sequences and calls their :class:`Sink`. Sinks may call :meth:`Engine.abort`,
:meth:`Engine.abort_all` and :meth:`Engine.add` from inside their callbacks. The asyncio
driver is :mod:`target_stub.runner` (one timer per step); the simulated-time driver is
:mod:`target_stub.simulate`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from target_stub.engine_config import EngineConfig
from target_stub.perf_model import StepLoad, prefill_attn_pairs, step_time_ms

FinishReason = Literal["stop", "length", "abort"]
SequenceKind = Literal["text", "embedding", "image"]
Clock = Callable[[], float]

# Sequence.state values (public: the runner and the fleet check them too).
SEQ_WAITING, SEQ_RUNNING, SEQ_DONE = 0, 1, 2


class Sink(Protocol):
    """Receives a sequence's output; called synchronously inside a step: never block."""

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        """``n_new`` >= 1 output tokens were produced; the first call is the first token."""

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        """Called exactly once, after the last ``on_tokens`` (not after ``Engine.abort``)."""


class EngineObserver(Protocol):
    """Watches an engine for metrics; called synchronously, must be cheap."""

    def on_step(self, engine: str, duration_s: float, tokens: int, decoded: int) -> None:
        """A step finished: ``tokens`` computed, ``decoded`` sequences got a token."""

    def on_first_token(self, engine: str, seq: Sequence) -> None:
        """``seq`` has its first output (``first_token_s`` set): once, before its sink is told."""

    def on_finished(self, engine: str, seq: Sequence, reason: FinishReason) -> None:
        """A sequence finished (including ``"abort"`` when a replica is killed)."""


@dataclass(eq=False, slots=True)
class Sequence:
    """One request inside an engine. Times are seconds on the engine's clock."""

    prompt_tokens: int
    output_tokens: int
    sink: Sink
    kind: SequenceKind = "text"
    finish_reason: Literal["stop", "length"] = "length"
    arrival_s: float = 0.0
    first_scheduled_s: float | None = None
    first_token_s: float | None = None
    finished_s: float | None = None
    generated: int = 0
    preemptions: int = 0
    computed: int = field(default=0, repr=False)
    """Tokens whose KV is in the cache (prefill progress; reset by a preemption)."""
    blocks: int = field(default=0, repr=False)
    state: int = field(default=SEQ_WAITING, repr=False)


@dataclass(frozen=True, slots=True)
class SchedulerPolicy:
    """Scheduler generation; the default is today's vLLM (chunked prefill, single step)."""

    chunked_prefill: bool = True
    scheduler_steps: int = 1

    def __post_init__(self) -> None:
        if self.scheduler_steps < 1:
            raise ValueError(f"scheduler_steps={self.scheduler_steps} must be >= 1")


@dataclass(slots=True)
class EngineCounters:
    """Monotonic counters, mirrored as vLLM's Prometheus counters by the metrics module."""

    prompt_tokens_total: int = 0
    generation_tokens_total: int = 0
    preemptions_total: int = 0
    steps_total: int = 0
    busy_s: float = 0.0
    finished_total: dict[str, int] = field(default_factory=dict)

    def count_finish(self, reason: str) -> None:
        self.finished_total[reason] = self.finished_total.get(reason, 0) + 1


class Engine:
    """One replica's scheduler and KV-block allocator for text models."""

    replan_on_add = False
    """New arrivals wait for the next step boundary (the fixed-timing engine replans)."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        clock: Clock,
        name: str = "engine-0",
        policy: SchedulerPolicy = SchedulerPolicy(),  # frozen: safe as a shared default
    ) -> None:
        self.config = config
        self.name = name
        self.policy = policy
        self._locked_steps = 0
        """Decode steps left in the current multi-step run (the queue is not looked at)."""
        self._clock = clock
        self._perf = config.perf
        self._block = config.block_size_tokens
        self.total_blocks = config.kv_blocks
        self.free_blocks = self.total_blocks
        self.running: list[Sequence] = []
        self.waiting: deque[Sequence] = deque()
        self.waiting_prompt_tokens = 0
        self.counters = EngineCounters()
        self._batch: list[tuple[Sequence, int]] = []
        self._step_s = 0.0
        self.last_step_tokens = 0
        self.observer: EngineObserver | None = None

    # -- observation ---------------------------------------------------------------
    @property
    def num_running(self) -> int:
        return len(self.running)

    @property
    def num_waiting(self) -> int:
        return len(self.waiting)

    @property
    def kv_usage_frac(self) -> float:
        return 1.0 - self.free_blocks / self.total_blocks if self.total_blocks else 1.0

    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    # -- requests --------------------------------------------------------------------
    def add(self, seq: Sequence) -> None:
        seq.arrival_s = self._clock()
        seq.state = SEQ_WAITING
        self.waiting.append(seq)
        self.waiting_prompt_tokens += seq.prompt_tokens

    def abort(self, seq: Sequence) -> None:
        """The client is gone: free its batch slot and KV blocks now, quietly."""
        if seq.state == SEQ_DONE:
            return
        if seq.state == SEQ_WAITING:
            self._remove_waiting(seq)
        else:
            self.running.remove(seq)
        self._release(seq)

    def abort_all(self) -> list[Sequence]:
        """Drop everything (a killed replica); sinks get ``on_finish(seq, "abort")``."""
        # Sequences finished in the step being completed stay in ``running`` until the
        # step ends (a sink may call this re-entrantly): they must not finish twice.
        victims = [s for s in (*self.running, *self.waiting) if s.state != SEQ_DONE]
        self.running.clear()
        self.waiting.clear()
        self.waiting_prompt_tokens = 0
        self._batch.clear()
        for seq in victims:
            self._release(seq)
            self.counters.count_finish("abort")
            if self.observer is not None:
                self.observer.on_finished(self.name, seq, "abort")
            seq.sink.on_finish(seq, "abort")
        return victims

    def resize_kv(self, kv_capacity_tokens: int) -> None:
        """Change the KV cache size (a fault); running sequences are preempted as needed."""
        used = self.total_blocks - self.free_blocks
        self.total_blocks = max(1, kv_capacity_tokens // self._block)
        self.free_blocks = self.total_blocks - used
        while self.free_blocks < 0 and self.running:
            self._preempt(self.running[-1])

    # -- stepping ----------------------------------------------------------------------
    def plan_step(self) -> float | None:
        """Choose the next batch at the current time; its duration in seconds, or None if idle."""
        now = self._clock()
        self._batch.clear()
        policy = self.policy
        if not self.running:
            self._locked_steps = 0
        if not policy.chunked_prefill and self._locked_steps == 0 and self.waiting:
            # vLLM V0 without chunked prefill: a step of whole prompts only; decodes wait.
            self._admit(now, self.config.max_num_batched_tokens, whole=True)
        if not self._batch:
            preemptions_before = self.counters.preemptions_total
            budget = self._schedule_running()
            if self._locked_steps > 0:
                self._locked_steps -= 1
            elif self.counters.preemptions_total == preemptions_before:
                # Like vLLM, admit nothing new in a step that had to preempt.
                more = policy.chunked_prefill and self._admit(now, budget)
                # Multi-step: prefill steps while waiting requests fit, then a run of
                # scheduler_steps decode steps without looking at the queue.
                if policy.scheduler_steps > 1 and self._batch and not more:
                    self._locked_steps = policy.scheduler_steps - 1
        if not self._batch:
            return None
        tokens = context = 0
        attn = 0.0
        for seq, n in self._batch:
            tokens += n
            if n == 1 and seq.generated > 0 and seq.computed >= seq.prompt_tokens:
                context += seq.computed
            else:
                attn += prefill_attn_pairs(n, seq.computed)
        load = StepLoad(
            tokens=tokens, context_tokens=context, sequences=len(self._batch), attn_pairs=attn
        )
        duration_s = step_time_ms(self._perf, load) / 1000.0
        self.counters.steps_total += 1
        self.counters.busy_s += duration_s
        self.last_step_tokens = tokens
        self._step_s = duration_s
        return duration_s

    def _schedule_running(self) -> int:
        """Decodes first, then unfinished prefills, oldest first; the budget left over."""
        budget = self.config.max_num_batched_tokens
        prefills: list[Sequence] = []
        # A snapshot: _grow may preempt sequences (and drop them from the batch).
        for seq in tuple(self.running):
            if budget <= 0:
                break
            if seq.state != SEQ_RUNNING:
                continue  # preempted earlier in this loop
            if seq.generated > 0 and seq.prompt_tokens + seq.generated - seq.computed == 1:
                budget = self._schedule(seq, 1, budget)
            else:
                prefills.append(seq)  # at most a few: usually only the newest
        for seq in prefills:
            if budget <= 0:
                break
            if seq.state == SEQ_RUNNING:
                need = seq.prompt_tokens + seq.generated - seq.computed
                budget = self._schedule(seq, min(need, budget), budget)
        return budget

    def _schedule(self, seq: Sequence, n: int, budget: int) -> int:
        """Put ``n`` tokens of ``seq`` in the batch if its KV blocks can be had."""
        before = self.counters.preemptions_total
        if self._grow(seq, seq.computed + n):
            self._batch.append((seq, n))
            budget -= n
        if self.counters.preemptions_total != before:  # victims left the batch
            budget = self.config.max_num_batched_tokens - sum(k for _, k in self._batch)
        return budget

    def complete_step(self) -> None:
        """Apply the planned batch at the current time: emit tokens, finish sequences."""
        now = self._clock()
        finished = False
        decoded = 0
        counters = self.counters
        for seq, n in self._batch:
            if seq.state != SEQ_RUNNING:
                continue  # aborted or preempted while the step ran (or by a sink)
            seq.computed += n
            if seq.computed < seq.prompt_tokens + seq.generated:
                continue  # prefill (or recompute) not finished yet
            if seq.generated == 0:
                # Counted once when the prompt is first fully computed (as vLLM counts
                # prompt tokens), not again when a preempted sequence recomputes it.
                counters.prompt_tokens_total += seq.prompt_tokens
            if seq.first_token_s is None:  # a recompute keeps it: once per sequence
                seq.first_token_s = now  # an embedding's one output is its vector
                if self.observer is not None:
                    self.observer.on_first_token(self.name, seq)
            if seq.kind == "embedding":
                self._finish(seq, now, "stop")
                finished = True
                continue
            seq.generated += 1
            decoded += 1
            seq.sink.on_tokens(seq, 1)
            if seq.generated >= seq.output_tokens and seq.state == SEQ_RUNNING:
                self._finish(seq, now, seq.finish_reason)
                finished = True
        counters.generation_tokens_total += decoded
        if self.observer is not None:
            self.observer.on_step(self.name, self._step_s, self.last_step_tokens, decoded)
        self._batch.clear()
        if finished or any(s.state != SEQ_RUNNING for s in self.running):
            self.running = [s for s in self.running if s.state == SEQ_RUNNING]

    # -- internals ---------------------------------------------------------------------
    def _admit(self, now: float, budget: int, *, whole: bool = False) -> bool:
        """Admit waiting sequences FCFS; True when only the token budget stopped admission.

        ``whole``: no chunking -- a prompt is admitted only if all of it fits the budget
        (or it is alone in the step, so an oversized prompt cannot block the queue).
        """
        max_seqs = self.config.max_num_seqs
        while self.waiting and budget > 0 and len(self.running) < max_seqs:
            seq = self.waiting[0]
            remaining = seq.prompt_tokens + seq.generated - seq.computed
            n = min(remaining, budget)
            if whole and n < remaining:
                if self._batch:
                    break
                n = remaining
            need = -(-(seq.computed + n) // self._block) - seq.blocks
            if need > self.free_blocks:
                break
            self.waiting.popleft()
            self.waiting_prompt_tokens -= seq.prompt_tokens
            self.free_blocks -= need
            seq.blocks += need
            seq.state = SEQ_RUNNING
            if seq.first_scheduled_s is None:
                seq.first_scheduled_s = now
            self.running.append(seq)
            self._batch.append((seq, n))
            budget -= n
        return budget <= 0 and bool(self.waiting) and len(self.running) < max_seqs

    def _grow(self, seq: Sequence, tokens: int) -> bool:
        """Allocate blocks for ``tokens`` cached tokens, preempting the newest if needed."""
        need = -(-tokens // self._block) - seq.blocks
        while need > self.free_blocks:
            victim = self.running[-1]
            self._preempt(victim)
            if victim is seq:
                return False
        if need > 0:
            self.free_blocks -= need
            seq.blocks += need
        return True

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.computed = 0
        seq.preemptions += 1
        seq.state = SEQ_WAITING
        self.waiting.appendleft(seq)
        self.waiting_prompt_tokens += seq.prompt_tokens
        self.counters.preemptions_total += 1
        self._batch[:] = [(s, n) for s, n in self._batch if s is not seq]

    def _finish(self, seq: Sequence, now: float, reason: FinishReason) -> None:
        seq.finished_s = now
        self._release(seq)
        self.counters.count_finish(reason)
        if self.observer is not None:
            self.observer.on_finished(self.name, seq, reason)
        seq.sink.on_finish(seq, reason)

    def _release(self, seq: Sequence) -> None:
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.state = SEQ_DONE

    def _remove_waiting(self, seq: Sequence) -> None:
        self.waiting.remove(seq)
        self.waiting_prompt_tokens -= seq.prompt_tokens
