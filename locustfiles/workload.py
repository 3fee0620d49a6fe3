"""What users ask for (pure, seeded): prompts, output lengths, multi-turn sessions, tiers.

Synthetic prompts are sequences of common English words, each one token with its leading space
in the Llama-3 and GPT BPE vocabularies, so ``prompt_tokens`` (the client's estimate, replaced
by the server's usage report when there is one) is the word count. Every prompt draws its
words at a random offset of a seeded word pool, so prompts do not share prefixes beyond the
deliberate shared system prompt (prefix caching must not flatter the results by accident).

Prompt file (``--prompt-file``): JSON Lines, one object per line with either ``"prompt"``
(a string) or ``"messages"`` (an OpenAI chat message list), and optionally
``"output_tokens"`` (int) used when the output length distribution is ``file``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from locustfiles.distribution import Distribution

# A word list reads better as prose than as 200 one-word lines.
_WORDS: Final = tuple(
    (  # noqa: SIM905
        "the of and to in is that for it as was with be by on not he this are or his from at "
        "which but have an they you were her she there one all we their been has when who will "
        "more no if out so said what up its about into than them can only other new some could "
        "time these two may then do first any my now such like our over man me even most made "
        "after also did many before must through back years where much your way well down should "
        "because each just those people how too little state good very make world still own see "
        "men work long get here between both life being under never day same another know while "
        "last might us great old year off come since against go came right used take three"
    ).split()
)
_POOL_WORDS: Final = 65536
_PROMPT_FILE_KEYS: Final = ("prompt", "messages")

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Tier:
    """A user tier: share of users, optional cap on output tokens, optional priority.

    Sent to the target as the ``user`` body field prefix, header ``x-surgebench-tier`` and,
    when set, the ``priority`` body field (vLLM's priority scheduling: lower runs first).
    """

    name: str
    weight: float
    max_output_tokens: int | None = None
    priority: int | None = None

    @classmethod
    def parse_list(cls, spec: str) -> tuple[Tier, ...]:
        """``NAME:WEIGHT[:MAX_OUTPUT_TOKENS[:PRIORITY]]``, comma separated; empty parts skip."""
        tiers: list[Tier] = []
        for item in filter(None, (s.strip() for s in spec.split(","))):
            parts = item.split(":")
            if len(parts) < 2 or len(parts) > 4 or not parts[0]:
                raise ValueError(
                    f"Bad tier {item!r}; expected NAME:WEIGHT[:MAX_OUTPUT_TOKENS[:PRIORITY]]"
                )
            try:
                weight = float(parts[1])
                cap = int(parts[2]) if len(parts) > 2 and parts[2] else None
                priority = int(parts[3]) if len(parts) > 3 and parts[3] else None
            except ValueError as exc:
                raise ValueError(f"Bad number in tier {item!r}") from exc
            if weight <= 0 or (cap is not None and cap < 1):
                raise ValueError(f"Tier {item!r} needs WEIGHT > 0 and MAX_OUTPUT_TOKENS >= 1")
            tiers.append(cls(parts[0], weight, cap, priority))
        return tuple(tiers)


@dataclass(frozen=True, slots=True)
class FileEntry:
    messages: tuple[Message, ...]
    prompt_tokens: int
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Turn:
    """One request's content: chat messages (or the plain prompt text), lengths, tier."""

    messages: tuple[Message, ...]
    prompt_tokens: int
    max_tokens: int
    tier: Tier | None

    @property
    def prompt_text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


@dataclass
class ChatSession:
    """A conversation whose context grows turn by turn (mutable; owned by one user)."""

    tier: Tier | None
    turns_left: int
    history: list[Message] = field(default_factory=list)
    context_tokens: int = 0

    def add_reply(self, text: str, tokens: int) -> None:
        self.history.append({"role": "assistant", "content": text})
        self.context_tokens += tokens


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    prompt_tokens: Distribution
    output_tokens: Distribution
    system_prompt_tokens: int = 0
    turns: Distribution = field(default_factory=lambda: Distribution("fixed", (1.0,)))
    max_context_tokens: int = 8192
    tiers: tuple[Tier, ...] = ()
    prompt_file: str | None = None
    seed: int = 0


class Workload:
    """Draws turns from a spec; the word pool and the shared system prompt come from the seed."""

    def __init__(self, spec: WorkloadSpec, *, corpus: tuple[FileEntry, ...] = ()) -> None:
        if (spec.prompt_tokens.from_file or spec.output_tokens.from_file) and not corpus:
            raise ValueError("a 'file' length distribution needs --prompt-file with entries")
        self.spec = spec
        self._corpus = corpus
        pool_rng = random.Random(spec.seed)
        self._pool = pool_rng.choices(_WORDS, k=_POOL_WORDS)
        system = " ".join(pool_rng.choices(_WORDS, k=spec.system_prompt_tokens))
        self._system: tuple[Message, ...] = (
            ({"role": "system", "content": system},) if spec.system_prompt_tokens else ()
        )

    def words(self, n: int, rng: random.Random) -> str:
        """``n`` pool words from a random offset (wrapping around)."""
        start = rng.randrange(_POOL_WORDS)
        end = start + n
        if end <= _POOL_WORDS:
            return " ".join(self._pool[start:end])
        return " ".join(self._pool[start:] + self._pool[: end - _POOL_WORDS])

    def pick_tier(self, rng: random.Random) -> Tier | None:
        if not self.spec.tiers:
            return None
        return rng.choices(self.spec.tiers, weights=[t.weight for t in self.spec.tiers])[0]

    def new_session(self, rng: random.Random, tier: Tier | None) -> ChatSession:
        turns = self.spec.turns.sample_int(rng, low=1)
        return ChatSession(tier=tier, turns_left=turns)

    def next_turn(self, session: ChatSession, rng: random.Random) -> Turn:
        """The session's next request; its user message is appended to the history."""
        entry = self._corpus[rng.randrange(len(self._corpus))] if self._corpus else None
        if entry is not None and self.spec.prompt_tokens.from_file:
            user_msgs = list(entry.messages)
            added = entry.prompt_tokens
        else:
            n = self.spec.prompt_tokens.sample_int(rng, low=1)
            user_msgs = [{"role": "user", "content": self.words(n, rng)}]
            added = n
        session.history.extend(user_msgs)
        session.context_tokens += added
        session.turns_left -= 1
        max_tokens = self._output_tokens(entry, rng, session.tier)
        prompt_tokens = self.spec.system_prompt_tokens + session.context_tokens
        return Turn(
            messages=(*self._system, *session.history),
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            tier=session.tier,
        )

    def session_over(self, session: ChatSession) -> bool:
        return session.turns_left <= 0 or (
            self.spec.system_prompt_tokens + session.context_tokens >= self.spec.max_context_tokens
        )

    def single_turn(self, rng: random.Random) -> Turn:
        """A one-off request (open loop, completions, embeddings, images)."""
        return self.next_turn(self.new_session(rng, self.pick_tier(rng)), rng)

    def _output_tokens(self, entry: FileEntry | None, rng: random.Random, tier: Tier | None) -> int:
        if self.spec.output_tokens.from_file and entry is not None and entry.output_tokens:
            value = entry.output_tokens
        elif self.spec.output_tokens.from_file:
            value = 128  # the entry has no output length: a neutral default, documented
        else:
            value = self.spec.output_tokens.sample_int(rng, low=1)
        if tier is not None and tier.max_output_tokens is not None:
            value = min(value, tier.max_output_tokens)
        return value


def load_prompt_file(path: str | Path) -> tuple[FileEntry, ...]:
    """Read a JSONL prompt file (format in the module docstring); blank lines are skipped."""
    entries: list[FileEntry] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            entries.append(_entry(json.loads(line), f"{path}:{lineno}"))
    if not entries:
        raise ValueError(f"Prompt file {path} has no entries")
    return tuple(entries)


def _entry(obj: Any, where: str) -> FileEntry:
    if not isinstance(obj, dict) or not any(k in obj for k in _PROMPT_FILE_KEYS):
        raise ValueError(f"{where}: expected an object with 'prompt' or 'messages'")
    if "messages" in obj:
        raw = obj["messages"]
        if not isinstance(raw, list) or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in raw
        ):
            raise ValueError(f"{where}: 'messages' must be a list of {{role, content}} objects")
        messages = tuple({"role": str(m.get("role", "user")), "content": m["content"]} for m in raw)
    else:
        if not isinstance(obj["prompt"], str):
            raise ValueError(f"{where}: 'prompt' must be a string")
        messages = ({"role": "user", "content": obj["prompt"]},)
    out = obj.get("output_tokens")
    if out is not None and (not isinstance(out, int) or out < 1):
        raise ValueError(f"{where}: 'output_tokens' must be a positive integer, got {out!r}")
    tokens = sum(len(m["content"].split()) for m in messages)
    return FileEntry(messages=messages, prompt_tokens=max(tokens, 1), output_tokens=out)
