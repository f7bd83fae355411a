"""Sentence embeddings on llama.cpp: the BERT GGUF (written once, checked, cached) run by xllamacpp.

>>> embedder = default_embedder()
>>> vectors = embedder.embed(["my basement leaks when it rains", "water comes through the basement wall",
...                           "I smell gas near the stove"])
>>> vectors.shape
(3, 384)
>>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
True
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from drain.config import DrainConfig, load_config
from drain.embed.source import MODEL_NAME, WEIGHTS_SHA256
from drain.errors import BackendError

__all__ = ["DIMENSION", "Embedder", "cache_root", "default_embedder", "embedding_model_path"]

DIMENSION = 384
CHUNK_WORDS = 120  # words per chunk of a long text (the model was trained on at most 256 tokens)
SLOTS = 4
AGREEMENT = 0.999  # least cosine between llama.cpp's and the reference's embedding of each probe
_FORMAT = 1  # bump when the written GGUF changes


def cache_root(config: DrainConfig | None = None) -> Path:
    """The configured cache folder (``$DRAIN_CACHE_DIR``, ``cache_dir`` in config.toml), else the platform's
    user cache directory for DRAIN.

    Everything in it is keyed by the hash of what it was made from, so one cache serves every DRAIN home.
    """
    return (config or load_config()).cache_dir


def embedding_model_path(cache_dir: Path | None = None) -> Path:
    """Where the checked GGUF of the embedding model lives (written on first use)."""
    return (cache_dir or cache_root()) / "embed" / f"{MODEL_NAME}-{WEIGHTS_SHA256[:12]}-f16-v{_FORMAT}.gguf"


def _server(path: Path, threads: int) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    params.n_parallel = SLOTS  # several texts per forward pass: about 1.7x the throughput of one at a time
    params.n_ctx = 512 * SLOTS
    params.n_batch = 512 * SLOTS
    params.n_ubatch = 512 * SLOTS
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1
    return xllamacpp.Server(params)


def _build(path: Path, threads: int) -> None:
    """Write the GGUF next to ``path``, check it against the numpy reference, then move it into place."""
    from drain.embed.bert_gguf import PROBES, reference_embeddings, write_gguf
    from drain.embed.source import read_source

    sys.stderr.write(f"drain: preparing the {MODEL_NAME} embedding model once (a few seconds)\n")
    source = read_source()
    draft = path.with_name(path.name + ".draft.gguf")
    write_gguf(source, draft)
    try:
        probe = Embedder(draft, threads=threads)
        got = probe.embed(PROBES)
        probe.close()
        expected = reference_embeddings(source, PROBES)
        agreement = (got * expected).sum(axis=1)
        if float(agreement.min()) < AGREEMENT:
            raise BackendError(f"the converted {MODEL_NAME} disagrees with its reference forward pass "
                               f"(cosine {float(agreement.min()):.4f} < {AGREEMENT}); it was not installed")
        (path.parent / (path.name + ".check.json")).write_text(json.dumps(
            {"probes": list(PROBES), "cosine": [round(float(a), 6) for a in agreement]}, indent=1))
        draft.replace(path)
    finally:
        draft.unlink(missing_ok=True)


class Embedder:
    """Embed texts as unit vectors (384 numbers each); a text longer than a chunk is embedded in chunks."""

    def __init__(self, path: Path | None = None, *, threads: int | None = None, cache_dir: Path | None = None) -> None:
        from drain.backends.embedded import default_threads

        self.threads = threads or default_threads()
        if path is None:
            path = embedding_model_path(cache_dir)
            if not path.is_file():
                _build(path, self.threads)
        self.path = path
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """Names the model and its file: what cached vectors are keyed by."""
        return f"{MODEL_NAME}-{hashlib.sha256(self.path.name.encode()).hexdigest()[:8]}"

    def _run(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._server is None:
                self._server = _server(self.path, self.threads)
            reply = self._server.handle_embeddings({"input": texts})
        if isinstance(reply, str):
            reply = json.loads(reply)
        if "data" not in reply:
            message = (reply.get("error") or {}).get("message", "no data")
            raise BackendError(f"the embedding model failed: {message}")
        rows = sorted(reply["data"], key=lambda item: item["index"])
        return np.asarray([row["embedding"] for row in rows], dtype=np.float32)

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """One unit vector per text, in order; an empty list gives an array of shape (0, 384)."""
        pieces: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            words = (text or "").split() or [""]
            for start in range(0, len(words), CHUNK_WORDS):
                pieces.append(" ".join(words[start : start + CHUNK_WORDS]))
                owners.append(index)
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(pieces), batch):
            chunk = self._run(pieces[start : start + batch])
            np.add.at(vectors, owners[start : start + batch], chunk)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def close(self) -> None:
        """Stop the model (it starts again on the next call)."""
        with self._lock:
            self._server = None


def default_embedder(cache_dir: Path | None = None, threads: int | None = None) -> Embedder:
    """The process's shared embedder for a cache folder and thread count (None: the configured ones),
    started on first use."""
    if cache_dir is None or threads is None:
        from drain.backends.embedded import default_threads

        config = load_config()
        cache_dir, threads = cache_dir or config.cache_dir, threads or default_threads(config)
    return _shared_embedder(Path(cache_dir), threads)


@cache
def _shared_embedder(cache_dir: Path, threads: int) -> Embedder:
    return Embedder(threads=threads, cache_dir=cache_dir)
