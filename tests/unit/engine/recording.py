"""A recording sink and a hand-driven step loop for engine tests (simulated time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from target_stub.engine import FinishReason, Sequence
from target_stub.engine_config import EngineConfig, engine_preset
from target_stub.engines import AnyEngine
from target_stub.simulate import SimClock


def tiny(**overrides: Any) -> EngineConfig:
    """The ``tiny`` preset with ``overrides``, validated like a CLI override would be."""
    return EngineConfig.model_validate({**engine_preset("tiny").model_dump(), **overrides})


@dataclass
class RecordingSink:
    """Remembers when tokens and the finish arrived; fails loudly on misuse by the engine."""

    clock: SimClock
    token_times_s: list[float] = field(default_factory=list)
    finishes: list[FinishReason] = field(default_factory=list)
    on_token: Callable[[Sequence, int], None] | None = None
    """Called after recording each token with (seq, tokens so far): lets a test re-enter."""

    @property
    def tokens(self) -> int:
        return len(self.token_times_s)

    def on_tokens(self, seq: Sequence, n_new: int) -> None:
        assert not self.finishes, f"tokens after finish ({self.finishes}) for {seq}"
        assert n_new >= 1
        self.token_times_s.extend([self.clock.now_s] * n_new)
        if self.on_token is not None:
            self.on_token(seq, self.tokens)

    def on_finish(self, seq: Sequence, reason: FinishReason) -> None:
        assert not self.finishes, f"second on_finish {reason!r} after {self.finishes}"
        self.finishes.append(reason)


def make_seq(
    clock: SimClock,
    prompt_tokens: int,
    output_tokens: int,
    **kwargs: Any,
) -> tuple[Sequence, RecordingSink]:
    sink = RecordingSink(clock)
    seq = Sequence(prompt_tokens=prompt_tokens, output_tokens=output_tokens, sink=sink, **kwargs)
    return seq, sink


def step(engine: AnyEngine, clock: SimClock) -> bool:
    """Run one engine step (plan, advance the clock, complete); False when idle."""
    duration_s = engine.plan_step()
    if duration_s is None:
        return False
    clock.now_s += duration_s
    engine.complete_step()
    return True


def drain(engine: AnyEngine, clock: SimClock, *, max_steps: int = 100_000) -> int:
    """Step until idle; the number of steps. Fails instead of looping forever."""
    for n in range(max_steps):
        if not step(engine, clock):
            return n
    raise AssertionError(f"engine still busy after {max_steps} steps")
