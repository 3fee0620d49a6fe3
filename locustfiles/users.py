"""Locust users for the three services: streaming chat, image generation, API traffic.

Closed loop (``--arrival closed``): each user sends a request, waits for the whole reply, thinks
(``--think-time-s``), and repeats; chat users hold multi-turn sessions whose context grows turn
by turn. Open loop (``--arrival poisson|gamma|constant``): users stay idle and the process's
``OpenLoopGenerator`` sends single-turn requests drawn by ``open_loop_call`` of the user
classes in the run, in proportion to their Locust ``weight``.

Every request is timed by ``LlmClient`` and recorded (``requests/<process_id>.jsonl``) and fired
into Locust's statistics by the process's record sink.
"""

from __future__ import annotations

import random
import time
from typing import Any, ClassVar

from locust import User, task
from locust.exception import StopUser

from locustfiles.api_request import (
    ApiCall,
    chat_call,
    completion_call,
    embedding_call,
    image_call,
)
from locustfiles.llm_client import LlmClient
from locustfiles.runtime import ProcessState, state_of
from locustfiles.workload import ChatSession, Tier, Turn, Workload

_IDLE_S = 3600.0
# DALL-E-style prompts are short descriptions, whatever the text prompt distribution says.
_IMAGE_PROMPT_WORDS = (10, 60)


class LlmUser(User):
    """Shared plumbing: per-user seeded RNG, tier, client and think time."""

    abstract = True
    endpoints: ClassVar[tuple[str, ...]] = ()

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.state: ProcessState = state_of(environment)

    def on_start(self) -> None:
        state = self.state
        if not state.ready():
            # test_start failed (the error is logged and Locust is quitting): stay quiet.
            raise StopUser()
        assert state.options is not None and state.workload is not None
        self.workload: Workload = state.workload
        seed = state.options.seed
        self.rng = random.Random(f"{seed}-{state.process_id}-user-{next(state.user_seq)}")
        self.tier: Tier | None = self.workload.pick_tier(self.rng)
        self.llm: LlmClient = state.client(self.rng)

    def wait_time(self) -> float:
        assert self.state.options is not None
        if self.state.open_loop:
            return _IDLE_S
        return self.state.options.think_time_s.sample(self.rng)

    def idle_if_open_loop(self) -> bool:
        """In open loop the generator sends the requests; users only keep Locust's count."""
        if self.state.open_loop:
            time.sleep(_IDLE_S)
            return True
        return False

    def single_turn(self, rng: random.Random) -> Turn:
        session = self.workload.new_session(rng, self.tier)
        return self.workload.next_turn(session, rng)

    @classmethod
    def open_loop_call(cls, state: ProcessState, rng: random.Random) -> ApiCall:
        raise NotImplementedError


class ChatUser(LlmUser):
    """A ChatGPT-like user: multi-turn streaming conversations."""

    endpoints = ("chat",)

    def on_start(self) -> None:
        super().on_start()
        self.session: ChatSession | None = None

    @task
    def chat_turn(self) -> None:
        if self.idle_if_open_loop():
            return
        assert self.state.style is not None
        workload = self.workload
        if self.session is None or workload.session_over(self.session):
            self.session = workload.new_session(self.rng, self.tier)
        session = self.session
        turn = workload.next_turn(session, self.rng)
        more_turns = not workload.session_over(session)
        outcome = self.llm.call(
            chat_call(self.state.style, turn),
            user_class=type(self).__name__,
            collect_text=more_turns,
        )
        if outcome.record.error_kind is None and more_turns:
            session.add_reply(outcome.text, outcome.record.output_tokens)
        else:
            self.session = None  # a failed or final turn ends the conversation

    @classmethod
    def open_loop_call(cls, state: ProcessState, rng: random.Random) -> ApiCall:
        assert state.workload is not None and state.style is not None
        return chat_call(state.style, state.workload.single_turn(rng))


class ImageUser(LlmUser):
    """A DALL-E-like user: one image generation per prompt."""

    endpoints = ("images",)

    @task
    def generate_image(self) -> None:
        if self.idle_if_open_loop():
            return
        assert self.state.style is not None
        call = _image(self.state, self.rng, self.tier)
        self.llm.call(call, user_class=type(self).__name__)

    @classmethod
    def open_loop_call(cls, state: ProcessState, rng: random.Random) -> ApiCall:
        assert state.workload is not None
        return _image(state, rng, state.workload.pick_tier(rng))


class ApiUser(LlmUser):
    """API traffic: non-streaming text completions (3 of 4 requests) and embeddings (1 of 4)."""

    endpoints = ("completions", "embeddings")
    _COMPLETION_SHARE: ClassVar[float] = 0.75

    @task(3)
    def complete(self) -> None:
        if self.idle_if_open_loop():
            return
        assert self.state.style is not None
        call = completion_call(self.state.style, self.single_turn(self.rng))
        self.llm.call(call, user_class=type(self).__name__)

    @task(1)
    def embed(self) -> None:
        if self.idle_if_open_loop():
            return
        assert self.state.style is not None
        call = embedding_call(self.state.style, self.single_turn(self.rng))
        self.llm.call(call, user_class=type(self).__name__)

    @classmethod
    def open_loop_call(cls, state: ProcessState, rng: random.Random) -> ApiCall:
        assert state.workload is not None and state.style is not None
        turn = state.workload.single_turn(rng)
        if rng.random() < cls._COMPLETION_SHARE:
            return completion_call(state.style, turn)
        return embedding_call(state.style, turn)


def _image(state: ProcessState, rng: random.Random, tier: Tier | None) -> ApiCall:
    assert state.workload is not None and state.style is not None
    n_words = rng.randint(*_IMAGE_PROMPT_WORDS)
    text = state.workload.words(n_words, rng)
    turn = Turn(
        messages=({"role": "user", "content": text},),
        prompt_tokens=n_words,
        max_tokens=1,
        tier=tier,
    )
    return image_call(state.style, turn)
