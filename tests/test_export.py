"""`drain export --format chat`: exact prompts and accepted replies, feedback filters, dedup, held-out split."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drain.backends.fake import FakeBackend
from drain.export import FeedbackFilter, chat_examples, export_chat, heldout_path, in_holdout
from drain.planner import Planner
from drain.schema import Contradiction, Idea, ParameterRef, PrincipleRef, Provenance, SolutionTree
from drain.store import Store
from tests.helpers import invoke_drain

SYSTEM = {"role": "system", "content": "You are DRAIN."}


def _exchange(step: str, user: str, reply: str, *, valid: bool = True, attempt: int = 1,
              extra: list[dict[str, str]] | None = None) -> SimpleNamespace:
    return SimpleNamespace(step=step, messages=[SYSTEM, {"role": "user", "content": user}, *(extra or [])],
                           schema={"type": "object"}, reply=reply, valid=valid, error=None if valid else "bad",
                           attempt=attempt, prompt_tokens=5, completion_tokens=3, seconds=0.1, started_at=0.0)


def _idea(text: str, position: int) -> Idea:
    return Idea(principle=PrincipleRef(id=position, name="p"), idea=text,
                provenance=Provenance(improving=30, worsening=31, cell="30x31", principle=position, position=position))


def _run(store: Store, problem: str, ideas: list[list[str]], *, status: str = "ok") -> str:
    """A finished run: frame, then one resolve step per idea group (its reply lists the ideas)."""
    backend = {"backend": "fake", "model": "m"}
    run_id = store.start_run(problem, source="test", backend=backend)
    store.log_exchange(run_id, _exchange("frame", f"Problem: {problem}", '{"restated": "r"}'), backend)
    contradictions = []
    for group in ideas:
        reply = json.dumps({"ideas": [{"principle": n, "idea": text} for n, text in enumerate(group, 1)]})
        store.log_exchange(run_id, _exchange("resolve", f"Resolve {problem}: {group}", reply), backend)
        contradictions.append(Contradiction(
            improving=ParameterRef(id=30, name="a"), worsening=ParameterRef(id=31, name="b"), confidence=0.5,
            ideas=[_idea(text, n) for n, text in enumerate(group, 1)]))
    if status == "error":
        store.finish_run(run_id, error="boom")
    else:
        store.finish_run(run_id, SolutionTree(problem=problem, contradictions=contradictions, run_id=run_id))
    return run_id


def _replies(examples: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["metadata"]["problem"], e["messages"][-1]["content"]) for e in examples]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "runs.sqlite")


def test_feedback_filters(store: Store) -> None:
    liked = _run(store, "noisy furnace", [["rubber pads", "duct silencer"], ["insulate the door"]])
    store.add_feedback(liked, rating="up")
    store.add_feedback(liked, rating="down", idea=3)  # one bad idea: only the step that wrote it goes
    disliked = _run(store, "wet basement", [["regrade the soil"]])
    store.add_feedback(disliked, rating="down")
    unrated = _run(store, "cold attic", [["seal the hatch"]])
    changed = _run(store, "squeaky floor", [["screw from below"]])
    store.add_feedback(changed, rating="down")
    store.add_feedback(changed, rating="up")  # changed their mind: the latest vote counts
    one_idea = _run(store, "ice dams", [["vent the soffits", "heat cable"]])
    store.add_feedback(one_idea, rating="up", idea=2)
    _run(store, "crashed run", [["never finished"]], status="error")

    up = list(chat_examples(store, feedback=FeedbackFilter.up))
    assert {(e["metadata"]["problem"], e["metadata"]["step"]) for e in up} == {
        ("noisy furnace", "frame"), ("noisy furnace", "resolve"), ("squeaky floor", "frame"),
        ("squeaky floor", "resolve"), ("ice dams", "resolve")}
    assert all(e["metadata"]["rating"] == "up" for e in up)
    assert ("noisy furnace", json.dumps({"ideas": [{"principle": 1, "idea": "insulate the door"}]})) not in _replies(up)

    not_down = list(chat_examples(store, feedback=FeedbackFilter.not_down))
    problems = {e["metadata"]["problem"] for e in not_down}
    assert problems == {"noisy furnace", "cold attic", "squeaky floor", "ice dams"}
    assert len(not_down) == 2 + 2 + 2 + 2  # furnace frame + one resolve, the other three whole
    assert {e["metadata"]["rating"] for e in not_down if e["metadata"]["run_id"] == unrated} == {None}

    everything = list(chat_examples(store, feedback=FeedbackFilter.all))
    assert len(everything) == 3 + 2 + 2 + 2 + 2  # every accepted step of every finished run
    assert "crashed run" not in {e["metadata"]["problem"] for e in everything}


def test_examples_are_the_prompt_and_the_accepted_reply(store: Store) -> None:
    run_id = store.start_run("drafty window", source="test")
    bad = _exchange("resolve", "Resolve drafty window", "not json", valid=False)
    fixed = _exchange("resolve", "Resolve drafty window", '{"ideas": []}', attempt=2, extra=[
        {"role": "assistant", "content": "not json"}, {"role": "user", "content": "That reply was not valid"}])
    store.log_exchange(run_id, bad)
    store.log_exchange(run_id, fixed)
    store.finish_run(run_id, SolutionTree(problem="drafty window", run_id=run_id))
    (example,) = chat_examples(store)
    assert example["messages"] == [SYSTEM, {"role": "user", "content": "Resolve drafty window"},
                                   {"role": "assistant", "content": '{"ideas": []}'}]
    assert example["metadata"]["attempt"] == 2 and example["metadata"]["step"] == "resolve"
    (whole,) = chat_examples(store, keep_reasks=True)
    assert [m["role"] for m in whole["messages"]] == ["system", "user", "assistant", "user", "assistant"]


def test_duplicates_are_written_once(store: Store) -> None:
    for _ in range(3):
        _run(store, "noisy furnace", [["rubber pads"]])
    _run(store, "noisy furnace", [["a different idea"]])
    from drain.export import ExportReport

    report = ExportReport()
    examples = list(chat_examples(store, report=report))
    assert len(examples) == 3 and report.duplicates == 5 and report.considered == 8


def test_holdout_is_stable_and_by_problem(store: Store, tmp_path: Path) -> None:
    problems = [f"problem number {n}" for n in range(60)]
    for problem in problems:
        _run(store, problem, [["idea one", "idea two"]])
    output = tmp_path / "train.jsonl"
    report = export_chat(store, output, holdout=0.25, seed=3)
    train = [json.loads(line) for line in output.read_text().splitlines()]
    held = [json.loads(line) for line in heldout_path(output).read_text().splitlines()]
    assert report.written == len(train) and report.heldout == len(held) and len(train) + len(held) == 120
    train_problems = {e["metadata"]["problem"] for e in train}
    held_problems = {e["metadata"]["problem"] for e in held}
    assert not train_problems & held_problems  # every step of a problem lands on the same side
    assert 5 <= len(held_problems) <= 25
    assert held_problems == {p for p in problems if in_holdout(p, 0.25, seed=3)}
    again = tmp_path / "again.jsonl"
    export_chat(store, again, holdout=0.25, seed=3)
    assert heldout_path(again).read_text() == heldout_path(output).read_text()


def test_export_holds_the_planners_exact_prompts(home: Path, tmp_path: Path) -> None:
    fake = FakeBackend()
    tree = Planner(fake).solve("leaking basement on budget")
    done = invoke_drain("export", "--format", "chat", "-o", str(tmp_path / "out.jsonl"), "--feedback", "all",
                        env={"DRAIN_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert b"examples" in done.stderr
    examples = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert examples and all(e["metadata"]["run_id"] == tree.run_id for e in examples)
    sent = [request.messages for request in fake.requests]
    for example in examples:
        prompt, reply = example["messages"][:-1], example["messages"][-1]
        assert prompt in sent  # the exact messages the planner sent to the model
        assert reply["role"] == "assistant" and json.loads(reply["content"]) is not None
    accepted = [e for e in Store(home / "runs.sqlite").exchanges(tree.run_id) if e["valid"]]
    assert len(examples) == len({(e["messages_json"], e["reply"]) for e in accepted})


def test_export_cli_filters_and_writes_atomically(home: Path, tmp_path: Path) -> None:
    store = Store(home / "runs.sqlite")
    store.add_feedback(_run(store, "noisy furnace", [["rubber pads"]]), rating="up")
    store.add_feedback(_run(store, "wet basement", [["regrade"]]), rating="down")
    env = {"DRAIN_HOME": str(home)}
    output = tmp_path / "up.jsonl"
    assert invoke_drain("export", "-o", str(output), "--feedback", "up", env=env).returncode == 0
    assert {json.loads(line)["metadata"]["problem"] for line in output.read_text().splitlines()} == {"noisy furnace"}
    only_resolve = tmp_path / "resolve.jsonl"
    done = invoke_drain("export", "-o", str(only_resolve), "--feedback", "all", "--step", "resolve", env=env)
    assert done.returncode == 0 and len(only_resolve.read_text().splitlines()) == 2
    bad = invoke_drain("export", "-o", str(tmp_path / "x.jsonl"), "--format", "alpaca", env=env)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    assert not list(tmp_path.glob(".*.tmp"))
