"""The loop the seed asks for, end to end on small data: solves and votes in the store -> an export of the
accepted, up-voted replies -> a dataset with them -> a 2-step training run -> the adapter installed -> the
next solve uses it, and `drain model info` says which data and how many voted replies it came from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.helpers import HAS_MODEL, ROOT

HAS_TRAIN = all(importlib.util.find_spec(n) for n in ("torch", "transformers", "peft", "accelerate", "gguf"))
pytestmark = [pytest.mark.train, pytest.mark.model,
              pytest.mark.skipif(not (HAS_TRAIN and HAS_MODEL), reason="needs the train extra and the model")]


def drain(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from drain.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    assert exit_.value.code == 0, captured.err
    return captured.out


def test_votes_flow_into_the_next_drain_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRAIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DRAIN_NO_LOG", raising=False)
    tree = json.loads(drain(capsys, "solve", "cold drafts around the front door", "--depth", "1", "-f", "json",
                            "--quiet"))
    drain(capsys, "feedback", tree["run_id"], "--rating", "up", "--note", "these helped")
    votes = tmp_path / "votes.jsonl"
    drain(capsys, "export", "--format", "chat", "-o", str(votes))
    exported = [json.loads(line) for line in votes.read_text().splitlines()]
    assert exported and all(row["messages"][-1]["role"] == "assistant" for row in exported)

    data, out = tmp_path / "data", tmp_path / "out"
    drain(capsys, "dataset", "build", "-o", str(data), "--export", str(votes), "--max-cases", "12", "--variants",
          "0", "--gold", str(ROOT / "training" / "example.jsonl"))
    card = json.loads((data / "data_card.json").read_text())
    assert card["store_examples"] == len(exported) and card["by_source"].get("store") == len(exported)

    drain(capsys, "train", str(data), "-o", str(out), "--max-steps", "2", "--rank", "4", "--alpha", "8",
          "--seq-len", "128", "--batch-size", "2", "--grad-accum", "1", "--quiet")
    drain(capsys, "model", "install", str(out))
    info = json.loads(drain(capsys, "model", "info", "--format", "json"))
    assert info["adapter_from"] == "installed"
    made = info["trained_on"]["data_card"]
    assert made["store_examples"] == len(exported) and str(votes) in made["exports"]
    assert made["library_digest"] and made["by_source"]["library"] > 0

    after = json.loads(drain(capsys, "solve", "cold drafts around the front door", "--depth", "1", "-f", "json",
                             "--quiet", "--no-log"))
    assert Path(after["backend"]["adapter"]).name == "drain-lora.gguf"
    assert Path(after["backend"]["adapter"]).parent == tmp_path / "home" / "models"
