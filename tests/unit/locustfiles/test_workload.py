"""Seeded workloads: lengths, shared prefix, growing sessions, tiers, prompt files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from locustfiles.distribution import Distribution
from locustfiles.workload import Tier, Workload, WorkloadSpec, load_prompt_file


def _spec(**overrides: object) -> WorkloadSpec:
    values: dict[str, object] = {
        "prompt_tokens": Distribution.parse("fixed:50"),
        "output_tokens": Distribution.parse("fixed:20"),
    }
    values.update(overrides)
    return WorkloadSpec(**values)  # type: ignore[arg-type]


def test_distribution_specs() -> None:
    rng = random.Random(0)
    assert Distribution.parse("fixed:7").sample_int(rng) == 7
    assert 2 <= Distribution.parse("uniform:2,4").sample(rng) <= 4
    draws = [Distribution.parse("lognormal:100,0.5").sample(rng) for _ in range(4000)]
    assert sorted(draws)[2000] == pytest.approx(100, rel=0.1)
    assert Distribution.parse("normal:10,100").sample_int(rng, low=1, high=12) in range(1, 13)
    assert str(Distribution.parse(" exponential:2.5 ")) == "exponential:2.5"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("poisson:3", "Unknown distribution 'poisson'.*known: fixed, uniform"),
        ("fixed:1,2", "takes 1 parameter"),
        ("normal:a,b", "must be numbers"),
        ("uniform:5,1", "LO <= HI"),
        ("fixed:-1", ">= 0"),
    ],
)
def test_bad_distribution_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Distribution.parse(spec)


def test_prompts_have_the_requested_words_and_are_reproducible() -> None:
    workload = Workload(_spec(prompt_tokens=Distribution.parse("lognormal:300,0.4")))
    first = [workload.single_turn(random.Random(5)) for _ in range(2)]
    assert first[0] == first[1]
    turn = first[0]
    assert len(turn.messages[-1]["content"].split()) == turn.prompt_tokens
    other = workload.single_turn(random.Random(6))
    assert other.messages[-1]["content"][:200] != turn.messages[-1]["content"][:200]


def test_shared_system_prompt_prefix() -> None:
    workload = Workload(_spec(system_prompt_tokens=64))
    a = workload.single_turn(random.Random(1))
    b = workload.single_turn(random.Random(2))
    assert a.messages[0]["role"] == "system"
    assert a.messages[0] == b.messages[0]
    assert len(a.messages[0]["content"].split()) == 64
    assert a.prompt_tokens == 64 + 50


def test_session_context_grows_turn_by_turn_until_over() -> None:
    workload = Workload(_spec(turns=Distribution.parse("fixed:3")))
    rng = random.Random(0)
    session = workload.new_session(rng, None)
    sizes = []
    for _ in range(3):
        assert not workload.session_over(session)
        turn = workload.next_turn(session, rng)
        sizes.append(turn.prompt_tokens)
        session.add_reply("a reply", 20)
    assert workload.session_over(session)
    assert sizes == [50, 120, 190]
    assert [m["role"] for m in turn.messages] == ["user", "assistant", "user", "assistant", "user"]


def test_session_ends_at_the_context_limit() -> None:
    workload = Workload(_spec(turns=Distribution.parse("fixed:100"), max_context_tokens=120))
    session = workload.new_session(random.Random(0), None)
    workload.next_turn(session, random.Random(0))
    session.add_reply("x", 20)
    assert not workload.session_over(session)
    workload.next_turn(session, random.Random(0))
    assert workload.session_over(session)


def test_tiers_parse_pick_and_cap_output() -> None:
    tiers = Tier.parse_list("free:3:16:1, paid:1")
    assert tiers == (Tier("free", 3.0, 16, 1), Tier("paid", 1.0, None, None))
    workload = Workload(_spec(tiers=tiers, output_tokens=Distribution.parse("fixed:64")))
    rng = random.Random(0)
    picked = [workload.pick_tier(rng) for _ in range(4000)]
    assert sum(t is not None and t.name == "free" for t in picked) / 4000 == pytest.approx(
        0.75, abs=0.03
    )
    session = workload.new_session(rng, tiers[0])
    assert workload.next_turn(session, rng).max_tokens == 16
    with pytest.raises(ValueError, match="NAME:WEIGHT"):
        Tier.parse_list("free")


def test_prompt_file_entries_and_file_lengths(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    lines = [
        {"prompt": "one two three", "output_tokens": 7},
        {"messages": [{"role": "user", "content": "four five"}], "output_tokens": 9},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    corpus = load_prompt_file(path)
    assert [e.prompt_tokens for e in corpus] == [3, 2]
    spec = _spec(prompt_tokens=Distribution.parse("file"), output_tokens=Distribution.parse("file"))
    workload = Workload(spec, corpus=corpus)
    turns = {
        (t.prompt_tokens, t.max_tokens)
        for t in (workload.single_turn(random.Random(i)) for i in range(30))
    }
    assert turns == {(3, 7), (2, 9)}


def test_file_distribution_without_a_file_is_refused() -> None:
    with pytest.raises(ValueError, match="--prompt-file"):
        Workload(_spec(prompt_tokens=Distribution.parse("file")))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "x"}', "'prompt' or 'messages'"),
        ('{"prompt": "x", "output_tokens": 0}', "positive"),
    ],
)
def test_bad_prompt_file_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_prompt_file(path)
