"""The training-data builder: content, exact planner prompts, and split hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import triz
from drain.errors import InputError
from drain.planner.choices import offer_choices
from drain.planner.steps import ContradictStep
from drain.prompts import PromptLibrary
from drain.training.dataset import build_dataset, leak_check, reply_json
from tests.helpers import ROOT, run_drain

GOLD = sorted((ROOT / "training").glob("gold_*.jsonl"))
BENCH = ROOT / "bench" / "homeowner" / "cases.jsonl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    build_dataset(out, gold_files=GOLD, knowledge=triz.load(), benchmark=BENCH, lexicon=40, seed=1)
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_step_and_source_is_present(built: Path) -> None:
    card = json.loads((built / "data_card.json").read_text())
    assert set(card["by_step"]) == {"frame", "decompose", "contradict", "resolve", "deepen"}
    assert {"benchmark-train", "extra", "variant", "lexicon"} <= set(card["by_source"])
    assert card["leaks"] == 0 and card["held_out_problems_checked"] == 60
    assert len(card["sha256"]["train.jsonl"]) == 64


def test_no_dev_or_test_problem_in_training_data(built: Path) -> None:
    held = {json.loads(line)["problem"] for line in BENCH.read_text().splitlines()
            if json.loads(line)["split"] in ("dev", "test")}
    train_ids = {json.loads(line)["id"] for line in BENCH.read_text().splitlines()
                 if json.loads(line)["split"] == "train"}
    for name in ("train.jsonl", "valid.jsonl"):
        for row in _rows(built / name):
            user = row["messages"][1]["content"]
            assert not any(f'"{problem}"' in user for problem in held)
            if row["source"] == "benchmark-train":
                assert row["id"] in train_ids


def test_examples_use_the_planners_exact_prompts(built: Path) -> None:
    knowledge, prompts = triz.load(), PromptLibrary()
    row = next(r for r in _rows(built / "train.jsonl") if r["step"] == "contradict" and r["source"] == "extra")
    problem = row["messages"][1]["content"].split('"')[1]
    reply = json.loads(row["messages"][2]["content"])
    improving, worsening, _ = offer_choices(knowledge, problem)
    expected = ContradictStep(prompts, knowledge).build(problem=problem, improving=improving, worsening=worsening,
                                                         most=max(2, len(reply["contradictions"])))
    if all(any(c.id == x["improving"] for c in improving) and any(c.id == x["worsening"] for c in worsening)
           for x in reply["contradictions"]):
        assert row["messages"][:2] == expected.messages
    assert row["messages"][0] == expected.messages[0]
    assert row["messages"][2]["content"] == reply_json(reply)  # compact, as the grammar writes it


def test_replies_pass_their_step_schemas(built: Path) -> None:
    from drain.planner.replies import ContradictReply, DecomposeReply, DeepenReply, FrameReply, ResolveReply

    models = {"frame": FrameReply, "decompose": DecomposeReply, "contradict": ContradictReply,
              "resolve": ResolveReply, "deepen": DeepenReply}
    for row in _rows(built / "train.jsonl")[:400]:
        models[row["step"]].model_validate_json(row["messages"][-1]["content"])


def test_valid_split_holds_whole_records_apart(built: Path) -> None:
    valid_ids = {r["id"] for r in _rows(built / "valid.jsonl")}
    train_ids = {r["id"] for r in _rows(built / "train.jsonl")}
    assert valid_ids and not valid_ids & train_ids


def test_leak_check_catches_near_duplicates() -> None:
    assert leak_check(["My basement leaks when it rains!"], ["my basement leaks when it rains"])
    assert not leak_check(["noisy furnace at night"], ["my basement leaks when it rains"])


def test_build_refuses_a_leaked_problem(tmp_path: Path) -> None:
    dev_problem = next(json.loads(line)["problem"] for line in BENCH.read_text().splitlines()
                       if json.loads(line)["split"] == "dev")
    record = json.loads((ROOT / "training" / "example.jsonl").read_text().splitlines()[0])
    record["id"], record["problem"] = "leak-1", dev_problem
    gold = tmp_path / "gold_leak.jsonl"
    gold.write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError, match="match dev/test problems"):
        build_dataset(tmp_path / "out", gold_files=[gold], knowledge=triz.load(), benchmark=BENCH)


def test_dataset_cli(tmp_path: Path) -> None:
    done = run_drain("dataset", "build", "-o", str(tmp_path / "ds"), "--lexicon", "10", "--variants", "0")
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "ds" / "train.jsonl").stat().st_size > 0
    assert "train examples" in (tmp_path / "ds" / "data_card.md").read_text()
