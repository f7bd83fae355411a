"""Which DRAIN adapter the embedded model applies: explicit, installed, shipped, or none; and the shipped one
for real (it loads in llama.cpp and changes what the model says)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from drain import adapters
from drain.backends.base import SamplingOptions
from drain.backends.embedded import EmbeddedBackend
from drain.cli import main
from drain.errors import InputError, ModelNotFoundError

SHIPPED = Path(adapters.__file__).resolve().parent / "_model" / adapters.ADAPTER_NAME
needs_shipped = pytest.mark.skipif(not SHIPPED.is_file(), reason="this checkout ships no DRAIN adapter")


def fake_gguf(path: Path) -> Path:
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def test_resolution_order_explicit_then_installed_then_shipped(home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = fake_gguf(tmp_path / "shipped.gguf")
    monkeypatch.setattr(adapters, "shipped_adapter", lambda: shipped)
    assert adapters.resolve_adapter(None) == shipped
    installed = adapters.install_adapter(fake_gguf(tmp_path / "mine.gguf"))
    assert installed == home / "models" / "drain-lora.gguf" and installed.is_file()
    assert adapters.resolve_adapter(None) == installed
    explicit = fake_gguf(tmp_path / "other.gguf")
    assert adapters.resolve_adapter(explicit) == explicit
    with pytest.raises(ModelNotFoundError, match="no adapter file"):
        adapters.resolve_adapter(tmp_path / "missing.gguf")
    monkeypatch.setattr(adapters, "shipped_adapter", lambda: None)
    installed.unlink()
    assert adapters.resolve_adapter(None) is None


def test_install_refuses_what_is_not_a_gguf_adapter(home: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a GGUF"):
        adapters.install_adapter(text)
    with pytest.raises(InputError, match="no adapter"):
        adapters.install_adapter(tmp_path)  # a folder without drain-lora.gguf
    assert not (home / "models" / "drain-lora.gguf").exists()


@needs_shipped
def test_model_info_names_the_shipped_adapter_until_one_is_installed(home: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["model", "info", "--format", "json"])
    assert exit_.value.code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["adapter"] == str(SHIPPED) and info["adapter_from"] == "shipped"
    assert info["rank"] == 16 and info["lora_pairs"] == 30 * 7  # every linear module of the 30 layers
    with pytest.raises(SystemExit) as exit_:
        main(["model", "install", str(SHIPPED)])
    assert exit_.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["model", "info", "--format", "json"])
    info = json.loads(capsys.readouterr().out)
    assert info["adapter_from"] == "installed" and info["adapter"] == str(home / "models" / "drain-lora.gguf")


@needs_shipped
def test_the_shipped_card_matches_the_shipped_adapter() -> None:
    card = json.loads((SHIPPED.parent / "run_card.json").read_text())
    assert card["exports"]["gguf_bytes"] == SHIPPED.stat().st_size
    assert card["exports"]["verify"]["passed"] is True
    assert card["results"]["final_loss"] < card["results"]["first_loss"]
    data = json.loads((SHIPPED.parent / "data_card.json").read_text())
    assert data["leaks"] == 0 and data["held_out_problems_checked"] == 60  # no dev or test problem trained on
    # every example the data card counts was trained on, or counted as dropped by the run (too long)
    assert data["train_examples"] == card["data"]["train"] + card["data"]["dropped"]


@pytest.mark.model
@needs_shipped
def test_the_embedded_default_applies_the_shipped_adapter(home: Path) -> None:
    """No option given: the backend loads the shipped adapter, and it changes the model's greedy reply."""
    messages = [{"role": "user", "content": "My basement leaks after rain. In one sentence, what should I do?"}]
    replies = {}
    for label, adapter in (("default", None), ("base", False)):
        backend = EmbeddedBackend(adapter=adapter, slots=1, context_per_slot=512, threads=2)
        try:
            replies[label] = asyncio.run(backend.complete(messages, options=SamplingOptions(max_tokens=24)))
            if label == "default":
                assert backend.adapter == str(SHIPPED)
            else:
                assert backend.adapter is None
        finally:
            asyncio.run(backend.aclose())
    assert replies["default"].text != replies["base"].text


@pytest.mark.model
def test_the_default_embedded_model_gives_the_same_tree_twice(home: Path) -> None:
    """Temperature 0, one slot: a solve is repeatable bit for bit (what `drain solve` promises)."""
    from drain.planner import Planner, PlannerSettings

    backend = EmbeddedBackend()
    assert backend.slots == 1
    trees = []
    try:
        for _ in range(2):
            tree = Planner(backend, PlannerSettings(depth=1), log=False).solve("noisy furnace")
            trees.append(tree.model_dump(mode="json", exclude={"stats", "run_id"}))
    finally:
        asyncio.run(backend.aclose())
    assert trees[0]["contradictions"] and trees[0]["contradictions"][0]["ideas"]
    assert trees[0] == trees[1]
