"""The DRAIN model as one file for a phone: the LoRA adapter merged into the base, quantized with gguf.

A browser's llama.cpp (wllama) loads one GGUF most reliably, so the adapter is merged into the base's
weights: for every patched tensor ``W' = W + (alpha / rank) * B @ A``, in llama.cpp's own layout (the
adapter GGUF already carries the q/k head permutation), then quantized with the gguf library's quantizers
(Q8_0 or Q4_0; it has no K-quants). The metadata and the tokenizer are copied from the base unchanged.

:func:`verify_merged` checks the file: llama.cpp's next-token log-probabilities with the merged file must
match llama.cpp's with the base plus the adapter, within what the quantization allows.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drain.training.lora_gguf import ExportError, _llama_logprobs

__all__ = ["PHONE_LIMIT_MB", "QUANTS", "MergeReport", "merge_adapter_gguf", "probe_prompts", "verify_merged"]

PHONE_LIMIT_MB = 150
QUANTS = ("q8_0", "q4_0")
# Compared on the tokens that matter: those the reference gives at least e**-5 (0.7%). The re-quantization
# moves their log-probabilities a little; a wrong merge misses by about the adapter's whole effect.
TOLERANCE = {"q8_0": 0.3, "q4_0": 1.0}
LIKELY = -5.0


def _file_type(gguf: Any, quant: str) -> int:
    return {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[quant]


def merge_adapter_gguf(base: str | os.PathLike[str], adapter: str | os.PathLike[str] | None,
                       output: str | os.PathLike[str], *, quant: str = "q8_0") -> Path:
    """Write ``output``: ``base`` with ``adapter`` merged in, 2-D weights as ``quant`` (token embeddings Q8_0).

    ``adapter=None`` re-quantizes the bare base (the check's measure of what re-quantizing alone changes).
    """
    import gguf
    import numpy as np

    if quant not in QUANTS:
        raise ExportError(f"quantization {quant!r}: choose one of {', '.join(QUANTS)}")
    base_reader = gguf.GGUFReader(str(base))
    alpha, loras = 0.0, {}
    if adapter is not None:
        lora_reader = gguf.GGUFReader(str(adapter))
        if "general.type" not in lora_reader.fields or str(lora_reader.fields["general.type"].contents()) != "adapter":
            raise ExportError(f"{adapter} is not a GGUF LoRA adapter")
        alpha = float(lora_reader.fields["adapter.lora.alpha"].contents())
        loras = {t.name: t for t in lora_reader.tensors}
    target = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}[quant]
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch=str(base_reader.fields["general.architecture"].contents()))
    for item in base_reader.fields.values():
        if item.name.startswith("GGUF.") or item.name == "general.architecture":
            continue
        value = int(_file_type(gguf, quant)) if item.name == "general.file_type" else item.contents()
        array = item.types[0] == gguf.GGUFValueType.ARRAY
        writer.add_key_value(item.name, value, item.types[0], sub_type=item.types[-1] if array else None)
    merged = 0
    for tensor in base_reader.tensors:
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        a, b = loras.get(f"{tensor.name}.lora_a"), loras.get(f"{tensor.name}.lora_b")
        if a is not None and b is not None:
            lora_a = np.asarray(a.data, dtype=np.float32)
            lora_b = np.asarray(b.data, dtype=np.float32)
            weights = weights + (alpha / lora_a.shape[0]) * (lora_b @ lora_a)
            merged += 1
        if weights.ndim == 2 and weights.shape[-1] % 32 == 0:
            kind = gguf.GGMLQuantizationType.Q8_0 if tensor.name == "token_embd.weight" else target
            writer.add_tensor(tensor.name, gguf.quants.quantize(weights, kind), raw_dtype=kind)
        else:
            writer.add_tensor(tensor.name, weights)
    expected = sum(1 for name in loras if name.endswith(".lora_a"))
    if merged != expected:
        writer.close()
        out.unlink(missing_ok=True)
        raise ExportError(f"merged {merged} of the adapter's {expected} tensors: it does not fit this base")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


@dataclass
class MergeReport:
    """What the check found: the largest log-probability differences, and whether they are allowed."""

    file: str
    quant: str
    size_mb: float
    prompts: int
    merged_vs_adapter: float  # merged file vs base + adapter, both in llama.cpp
    adapter_effect: float  # how much the adapter itself moves the log-probabilities
    tolerance: float
    passed: bool
    details: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_prompts() -> list[str]:
    """Prompts for the check, as llama.cpp reads them (SmolLM2's ChatML): DRAIN's own step prompts with
    the first words of a reply, where the next token is uncertain and the adapter's effect shows."""
    from drain.prompts import PromptLibrary

    prompts = PromptLibrary()
    chats = [(prompts.render("frame", problem="leaking basement on budget"), '{"restated": "'),
             (prompts.render("frame", problem="the furnace bangs when it starts"), '{"restated": "The'),
             (prompts.render("frame", problem="drafty windows in my rental"), '{"restated": "Cold air'),
             ([{"role": "user", "content": "What should I check first when my basement floods?"}], "")]
    rendered = []
    for messages, start in chats:
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        rendered.append(text + "<|im_start|>assistant\n" + start)
    return rendered


def _largest_difference(want: dict[int, float], got: dict[int, float]) -> float:
    shared = [t for t in set(want) & set(got) if want[t] >= LIKELY]
    return max((abs(want[t] - got[t]) for t in shared), default=0.0)


def verify_merged(merged: str | os.PathLike[str], base: str | os.PathLike[str], adapter: str | os.PathLike[str],
                  prompts: list[list[int]] | list[str], *, quant: str, top_k: int = 20, threads: int = 2,
                  workdir: str | os.PathLike[str] | None = None) -> MergeReport:
    """Compare llama.cpp's next-token log-probabilities on the likely tokens: the merged file against the
    base plus the adapter. Allowed: :data:`TOLERANCE`, or twice what re-quantizing the bare base alone
    moves them (measured on a re-quantized copy), whichever is larger; the most likely token must agree."""
    import tempfile

    merged_path, base_path, adapter_path = Path(merged), Path(base), Path(adapter)
    with_adapter = _llama_logprobs(base_path, adapter_path, prompts, top_k, threads)
    bare = _llama_logprobs(base_path, None, prompts, top_k, threads)
    phone = _llama_logprobs(merged_path, None, prompts, top_k, threads)
    with tempfile.TemporaryDirectory(prefix="drain-phone-", dir=workdir) as scratch:
        requantized = merge_adapter_gguf(base_path, None, Path(scratch) / "base-requantized.gguf", quant=quant)
        noise_runs = _llama_logprobs(requantized, None, prompts, top_k, threads)
    details = []
    for index, (want, got, plain, noisy) in enumerate(zip(with_adapter, phone, bare, noise_runs, strict=True)):
        details.append({
            "prompt": index,
            "diff": round(_largest_difference(want, got), 4),
            "effect": round(_largest_difference(want, plain), 4),
            "requantization": round(_largest_difference(plain, noisy), 4),
            "top_token_same": float(max(want, key=want.get) == max(got, key=got.get)),
        })
    worst = max(row["diff"] for row in details)
    effect = max(row["effect"] for row in details)
    tolerance = round(max(TOLERANCE[quant], 2 * max(row["requantization"] for row in details)), 4)
    size = round(merged_path.stat().st_size / 1e6, 1)
    passed = worst <= tolerance and size <= PHONE_LIMIT_MB and all(row["top_token_same"] for row in details)
    return MergeReport(str(merged_path), quant, size, len(prompts), worst, effect, tolerance, passed, details)
