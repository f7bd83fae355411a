"""The training-data builder: every model step, the step modules' exact requests, and split hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import triz
from drain.errors import InputError
from drain.grounding.grounder import Grounder
from drain.prompts import PromptLibrary
from drain.steps import contradict, decompose, deepen, frame, resolve
from drain.training.dataset import build_dataset, leak_check, reply_json
from tests.helpers import ROOT, invoke_drain

GOLD = sorted((ROOT / "training").glob("gold_*.jsonl"))
BENCH = ROOT / "bench" / "homeowner" / "cases.jsonl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    build_dataset(out, gold_files=GOLD[:1], knowledge=triz.load(), benchmark=BENCH, variants=1, max_cases=150,
                  seed=1)
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_model_step_and_source_is_present(built: Path) -> None:
    card = json.loads((built / "data_card.json").read_text())
    assert set(card["by_step"]) == {"frame", "decompose", "contradict", "resolve", "deepen"}
    assert {"library", "variant"} <= set(card["by_source"])
    assert card["leaks"] == 0 and card["held_out_problems_checked"] == 60
    assert card["library_cases"] > 0 and len(card["sha256"]["train.jsonl"]) == 64


def test_no_dev_or_test_problem_in_training_data(built: Path) -> None:
    held = {json.loads(line)["problem"] for line in BENCH.read_text().splitlines()
            if json.loads(line)["split"] in ("dev", "test")}
    for name in ("train.jsonl", "valid.jsonl"):
        for row in _rows(built / name):
            user = row["messages"][1]["content"]
            assert not any(f'"{problem}"' in user for problem in held)


def test_library_examples_are_the_steps_own_requests(built: Path) -> None:
    knowledge, prompts = triz.load(), PromptLibrary()
    grounder = Grounder(knowledge)
    row = next(r for r in _rows(built / "train.jsonl") if r["step"] == "contradict" and r["source"] == "library")
    case = next(c for c in grounder.library.cases if c.id == row["id"])
    grounder.exclude_cases = frozenset([case.id])
    offered = grounder.pairs(grounder.ground(case.text), k=6)
    reply = json.loads(row["messages"][2]["content"])
    if all(key in {c.key for c in offered} for key in reply["pairs"]):  # no gold pair had to be added
        assert row["messages"][:2] == contradict.build(prompts, knowledge, case.text, offered, 2).messages
    assert reply["pairs"][0] == f"{case.pairs[0][0]}x{case.pairs[0][1]}"
    assert row["messages"][2]["content"] == reply_json(reply)  # compact, as the grammar writes it


def test_replies_pass_their_step_reply_models(built: Path) -> None:
    fixed = {"frame": frame.FrameReply}
    for row in _rows(built / "train.jsonl")[:300]:
        text = row["messages"][-1]["content"]
        if row["step"] in fixed:
            fixed[row["step"]].model_validate_json(text)
            continue
        problem = row["messages"][1]["content"].split('"')[1]
        if row["step"] == "decompose":
            decompose.reply_model(problem).model_validate_json(text)
        elif row["step"] in ("contradict", "resolve"):  # the ids chosen are among those offered in the prompt
            chosen = json.loads(text)["pairs" if row["step"] == "contradict" else "cards"]
            assert all(f"\n{key}: " in row["messages"][1]["content"] for key in chosen)
        elif row["step"] == "deepen":
            assert set(json.loads(text)) == {"new_problem", "improving", "worsening"}
    assert resolve.NAME == "resolve" and deepen.NAME == "deepen"


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
        build_dataset(tmp_path / "out", gold_files=[gold], knowledge=triz.load(), benchmark=BENCH,
                      library_cases=False)


def test_dataset_cli(tmp_path: Path) -> None:
    done = invoke_drain("dataset", "build", "-o", str(tmp_path / "ds"), "--variants", "0", "--max-cases", "20",
                        "--gold", str(ROOT / "training" / "example.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "ds" / "train.jsonl").stat().st_size > 0
    assert "train examples" in (tmp_path / "ds" / "data_card.md").read_text()


def test_a_weighted_step_is_repeated_and_recorded(tmp_path: Path) -> None:
    gold = [ROOT / "training" / "example.jsonl"]
    plain = build_dataset(tmp_path / "plain", gold_files=gold, knowledge=triz.load(), benchmark=BENCH, variants=0,
                          max_cases=20)
    heavy = build_dataset(tmp_path / "heavy", gold_files=gold, knowledge=triz.load(), benchmark=BENCH, variants=0,
                          max_cases=20, weights={"contradict": 3})
    assert heavy.card["by_step"]["contradict"] == 3 * plain.card["by_step"]["contradict"]
    assert heavy.card["by_step"]["resolve"] == plain.card["by_step"]["resolve"]
    assert heavy.card["settings"]["weights"] == {"contradict": 3}


@pytest.mark.parametrize("weight", ["contradcit=2", "contradict=0", "contradict=two"])
def test_a_bad_weight_is_one_line(tmp_path: Path, weight: str) -> None:
    done = invoke_drain("dataset", "build", "-o", str(tmp_path / "ds"), "--weight", weight)
    assert done.returncode != 0 and not (tmp_path / "ds").exists()
    assert "--weight" in done.stderr.decode() and "Traceback" not in done.stderr.decode()
