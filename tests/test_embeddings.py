"""The sentence-embedding model: from the pinned wheel to a checked BERT GGUF on llama.cpp."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from drain.embed import Embedder, default_embedder
from drain.embed.bert_gguf import PROBES, reference_embeddings, wordpiece
from drain.embed.source import EMBEDDING_INSTALL, find_model_zip, read_source
from drain.errors import ModelNotFoundError
from tests.helpers import ROOT

SENTENCES = [
    "my basement leaks every time it rains",
    "Water comes in where the wall meets the floor!!",
    "I want to move the gas range and reconnect it myself",
    "leaky 🚿 shower, ça coule, and the grout is grey",
    "the furnace makes a loud BANG when it starts (it's 20 years old)",
    "",
]


@pytest.fixture(scope="module")
def source():
    return read_source()


def test_llama_cpp_embeddings_match_the_numpy_reference(source) -> None:
    got = default_embedder().embed(PROBES)
    expected = reference_embeddings(source, PROBES)
    assert np.all((got * expected).sum(axis=1) > 0.999)


def test_llama_cpp_embeddings_match_transformers() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = Path(__file__).parent / ".." / "test-artifacts" / "minilm"
    folder.mkdir(parents=True, exist_ok=True)
    zipfile.ZipFile(find_model_zip()).extractall(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    got = default_embedder().embed(SENTENCES)
    assert np.all((got * expected).sum(axis=1) > 0.999), (got * expected).sum(axis=1)
    for text in SENTENCES[:5]:  # the probe tokenizer agrees with the real one on ordinary text
        assert wordpiece(text, read_source().vocabulary) == tokenizer(text)["input_ids"]


def test_meaning_not_words(source) -> None:
    vectors = default_embedder().embed(["the basement leaks when it rains", "my cellar gets wet after storms",
                                         "the basement is too cold in winter"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # no shared word, yet closer than "basement"


def test_long_and_empty_texts_give_unit_vectors() -> None:
    vectors = default_embedder().embed(["water " * 1200, "", "ok"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_missing_model_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ModelNotFoundError, match="install it with: " + EMBEDDING_INSTALL.replace(".", r"\.")):
        find_model_zip()


def test_changed_weights_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.zip"
    with zipfile.ZipFile(find_model_zip()) as good, zipfile.ZipFile(bad, "w") as out:
        for item in good.infolist():
            data = good.read(item)
            out.writestr(item, data[:-4] + b"\0\0\0\0" if item.filename == "model.safetensors" else data)
    with pytest.raises(ModelNotFoundError, match="not the pinned"):
        read_source(bad)


def test_the_gguf_is_written_once_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAIN_CACHE_DIR", str(tmp_path))
    first = Embedder()
    assert first.path.is_file() and first.path.is_relative_to(tmp_path)
    check = first.path.with_name(first.path.name + ".check.json").read_text()
    assert '"cosine"' in check
    stamp = first.path.stat().st_mtime_ns
    assert Embedder().path.stat().st_mtime_ns == stamp  # the cached file is reused, not rewritten


def test_light_commands_never_load_the_embedding_model() -> None:
    for args in (["--help"], ["matrix", "1", "14"]):
        probe = (f"import sys, runpy; sys.argv = ['drain', *{args!r}]\n"
                 "try:\n    runpy.run_module('drain', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                 "print('EMBED' if any(m.startswith('drain.embed') for m in sys.modules) else 'LIGHT')")
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
        assert done.stdout.strip().endswith("LIGHT"), done.stdout
