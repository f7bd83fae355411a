"""A PEFT LoRA adapter as a llama.cpp GGUF LoRA adapter, and a check that llama.cpp computes what torch does.

llama.cpp names a LoRA pair after the base tensor it patches (``blk.3.attn_q.weight.lora_a`` / ``.lora_b``),
keeps A as ``[rank, in]`` and B as ``[out, rank]`` (numpy order) and scales ``B @ A`` by
``adapter.lora.alpha / rank``. Its llama converter stores the q and k projections with their rows
permuted per attention head (rotary halves interleaved); since ``P (B A) = (P B) A``, only ``lora_b`` of
q and k gets that permutation, ``lora_a`` never does. :func:`verify_export` checks the whole chain by
comparing next-token log-probabilities of transformers (+PEFT) with xllamacpp (+GGUF adapter).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drain.errors import ExportError

__all__ = [
    "ADAPTER_FILE",
    "Comparison",
    "ExportError",
    "VerifyReport",
    "dequantized_copy",
    "encode_chat",
    "export_lora_gguf",
    "export_merged",
    "permute_heads",
    "verify_export",
]

ADAPTER_FILE = "drain-lora.gguf"

# Hugging Face module suffix -> llama.cpp tensor name inside ``blk.N``.
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
# Architectures whose llama.cpp converter permutes q/k rows (llama, mistral) or not (qwen2).
PERMUTED_ARCHS = {"llama": True, "mistral": True, "qwen2": False}



def permute_heads(rows: Any, n_head: int) -> Any:
    """llama.cpp's q/k row order: each head's two rotary halves interleaved (numpy array, rows first).

    >>> import numpy as np
    >>> permute_heads(np.arange(8).reshape(8, 1), 2).ravel().tolist()
    [0, 2, 1, 3, 4, 6, 5, 7]
    """
    shape = rows.shape
    return rows.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _read_adapter(adapter_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors.numpy import load_file

    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ExportError(f"{adapter_dir} holds no PEFT adapter (adapter_config.json + adapter_model.safetensors)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    return config, load_file(str(weights_path))


def _check_adapter_config(config: dict[str, Any]) -> float:
    """The alpha llama.cpp needs (it scales by alpha / rank); refuse what it cannot express."""
    if config.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"only LoRA adapters can be exported, not {config.get('peft_type')}")
    if config.get("use_dora"):
        raise ExportError("DoRA adapters cannot be exported to llama.cpp")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ExportError("per-module ranks or alphas cannot be exported to llama.cpp")
    if config.get("modules_to_save"):
        raise ExportError("modules_to_save (fully trained layers) cannot be exported as a LoRA adapter")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha


GGUF_TYPES = {"f32": "float32", "f16": "float16"}  # how the adapter's tensors may be stored


def export_lora_gguf(adapter_dir: str | os.PathLike[str], output: str | os.PathLike[str],
                     base_config: dict[str, Any], *, name: str = "drain", dtype: str = "f32") -> Path:
    """Write the PEFT adapter in ``adapter_dir`` as a llama.cpp LoRA adapter at ``output``.

    ``base_config`` is the base model's Hugging Face ``config.json`` (architecture and head counts);
    ``dtype`` is ``f32`` or ``f16`` (half the size; llama.cpp computes the adapter in float32 either way).
    """
    import gguf
    import numpy as np

    if dtype not in GGUF_TYPES:
        raise ExportError(f"the adapter can be written as {' or '.join(GGUF_TYPES)}, not {dtype}")
    store_as = getattr(np, GGUF_TYPES[dtype])

    arch = str(base_config.get("model_type", ""))
    if arch not in PERMUTED_ARCHS:
        raise ExportError(f"GGUF export knows llama, mistral and qwen2 models, not {arch or 'this model'}")
    config, tensors = _read_adapter(Path(adapter_dir))
    alpha = _check_adapter_config(config)
    n_head = int(base_config["num_attention_heads"])
    n_head_kv = int(base_config.get("num_key_value_heads") or n_head)
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        layer_part, _, rest = key.partition(".layers.")
        block, _, module = rest.partition(".")
        module, _, kind = module.rpartition(".lora_")
        target = HF_TO_GGUF.get(module)
        if not layer_part or target is None or kind not in ("A.weight", "B.weight"):
            raise ExportError(f"cannot map adapter tensor {key} to a llama.cpp tensor")
        pairs.setdefault(f"blk.{int(block)}.{target}.weight", {})[kind[0]] = value.astype(np.float32)
    if not pairs:
        raise ExportError(f"the adapter in {adapter_dir} has no LoRA tensors")
    writer = gguf.GGUFWriter(str(output), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for base_name in sorted(pairs, key=_natural_key):
        pair = pairs[base_name]
        if set(pair) != {"A", "B"}:
            raise ExportError(f"{base_name}: the adapter lacks lora_{'B' if 'A' in pair else 'A'}")
        lora_b = pair["B"]
        if PERMUTED_ARCHS[arch] and ".attn_q." in base_name:
            lora_b = permute_heads(lora_b, n_head)
        elif PERMUTED_ARCHS[arch] and ".attn_k." in base_name:
            lora_b = permute_heads(lora_b, n_head_kv)
        writer.add_tensor(base_name + ".lora_a", np.ascontiguousarray(pair["A"].astype(store_as)))
        writer.add_tensor(base_name + ".lora_b", np.ascontiguousarray(lora_b.astype(store_as)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(output)


def _natural_key(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return int(parts[1]), parts[2]


@dataclass
class Comparison:
    """torch vs llama.cpp next-token log-probabilities against one llama.cpp base file.

    ``base_diff``: max |torch - llama.cpp| without the adapter (the noise floor of that base);
    ``adapter_diff``: the same with the adapter; ``effect``: the largest change the adapter makes in
    torch; ``effect_diff``: max |change in torch - change in llama.cpp|. Over the ``top_k`` tokens
    llama.cpp ranks highest, for every prompt.
    """

    reference: str
    base_diff: float
    adapter_diff: float
    effect: float
    effect_diff: float
    tolerance: str
    passed: bool
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class VerifyReport:
    """The export check: ``exact`` against a float32 copy of the base (proves tensor names, q/k
    permutation and scale to a few thousandths), ``deployed`` against the 4-bit base users run."""

    prompts: int
    top_k: int
    exact: Comparison | None
    deployed: Comparison
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    def summary(self) -> str:
        parts = [f"GGUF adapter check {'ok' if self.passed else 'FAILED'} ({self.prompts} prompts, top {self.top_k} "
                 "next-token log-probs, transformers+PEFT vs xllamacpp+GGUF adapter)"]
        for check in (self.exact, self.deployed):
            if check is not None:
                parts.append(f"{check.reference}: max diff {check.base_diff:.4f} base, {check.adapter_diff:.4f} with "
                             f"adapter; adapter effect {check.effect:.4f}, effect diff {check.effect_diff:.4f} "
                             f"(allowed {check.tolerance}) {'ok' if check.passed else 'FAILED'}")
        return "; ".join(parts)


# float32 against float32: only kernel and summation order differ (measured: at most 0.007).
EXACT_TOLERANCE = (0.02, 0.02)
# 4-bit weights with 8-bit activations in llama.cpp vs dequantized float32 in torch: the bare bases
# already differ by 0.1-0.3; a wrong export misses by about the whole effect.
DEPLOYED_TOLERANCE = (0.1, 0.1)


def dequantized_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """A float32 copy of a GGUF model (same metadata and tokenizer): the weights torch trains on."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(source))
    arch = str(reader.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(str(target), arch=arch)
    for item in reader.fields.values():
        if item.name.startswith("GGUF.") or item.name == "general.architecture":
            continue
        value = 0 if item.name == "general.file_type" else item.contents()  # 0: all float32
        array = item.types[0] == gguf.GGUFValueType.ARRAY
        writer.add_key_value(item.name, value, item.types[0], sub_type=item.types[-1] if array else None)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(target)


def _compare(reference: str, cpp_base: list[dict[int, float]], cpp_lora: list[dict[int, float]],
             tf_base: list[Any], tf_lora: list[Any], tolerance: tuple[float, float],
             noise_scale: float) -> Comparison:
    details = []
    for index in range(len(cpp_base)):
        shared = sorted(set(cpp_base[index]) & set(cpp_lora[index]))
        tf_effect = {t: float(tf_lora[index][t] - tf_base[index][t]) for t in shared}
        details.append({
            "prompt": index,
            "base_diff": max(abs(v - float(tf_base[index][t])) for t, v in cpp_base[index].items()),
            "adapter_diff": max(abs(v - float(tf_lora[index][t])) for t, v in cpp_lora[index].items()),
            "effect": max((abs(v) for v in tf_effect.values()), default=0.0),
            "effect_diff": max((abs(tf_effect[t] - (cpp_lora[index][t] - cpp_base[index][t])) for t in shared),
                               default=0.0),
        })
    worst = {key: round(max(row[key] for row in details), 4)
             for key in ("base_diff", "adapter_diff", "effect", "effect_diff")}
    absolute, relative = tolerance
    allowed = absolute + noise_scale * worst["base_diff"] + relative * worst["effect"]
    passed = worst["effect_diff"] <= allowed and worst["adapter_diff"] <= worst["base_diff"] + allowed
    rule = f"{absolute} + {noise_scale:g} x base diff + {relative} x effect = {allowed:.4f}"
    for row in details:
        row.update({key: round(value, 4) for key, value in row.items() if key != "prompt"})
    return Comparison(reference, **worst, tolerance=rule, passed=passed, details=details)


def _llama_logprobs(model_path: Path, adapter: Path | None, prompts: list[list[int]] | list[str], top_k: int,
                    threads: int) -> list[dict[int, float]]:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_parallel = 1
    params.n_ctx = max(len(p) for p in prompts) + 16  # token ids, or text (never fewer characters than tokens)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.verbosity = -1
    params.cache_prompt = False
    if adapter is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
    try:
        server = xllamacpp.Server(params)
    except Exception as err:
        raise ExportError(f"llama.cpp could not load {adapter or model_path}: {err}") from err
    results = []
    for ids in prompts:
        reply = server.handle_completions({"prompt": ids, "n_predict": 1, "n_probs": top_k, "temperature": 0.0,
                                           "top_k": 1, "samplers": ["top_k"], "cache_prompt": False})
        if not isinstance(reply, dict) or "error" in reply:
            raise ExportError(f"llama.cpp failed to score a prompt: {reply}")
        results.append({int(t["id"]): float(t["logprob"]) for t in _top_logprobs(reply)})
    del server
    return results


def _top_logprobs(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The first generated token's alternatives, from the OpenAI-style or the native completion reply."""
    try:
        if "choices" in reply:
            return list(reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"])
        return list(reply["completion_probabilities"][0]["top_logprobs"])
    except (KeyError, IndexError, TypeError) as err:
        raise ExportError(f"llama.cpp returned no token log-probabilities ({err})") from None


def _torch_logprobs(model: Any, prompts: list[list[int]], *, adapter: bool) -> list[Any]:
    import contextlib

    import torch

    context = contextlib.nullcontext() if adapter else model.disable_adapter()
    rows = []
    with torch.no_grad(), context:
        for ids in prompts:
            device = next(model.parameters()).device
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, -1].float().cpu()
            rows.append(torch.log_softmax(logits, dim=-1))
    return rows


def verify_export(model: Any, tokenizer: Any, base_gguf: str | os.PathLike[str],
                  adapter_gguf: str | os.PathLike[str], prompts: list[list[dict[str, str]]], *,
                  exact: bool = True, top_k: int = 20, threads: int | None = None,
                  workdir: str | os.PathLike[str] | None = None) -> VerifyReport:
    """Compare next-token log-probabilities of ``model`` (a PEFT model whose base was read from
    ``base_gguf``) with xllamacpp running ``base_gguf`` plus ``adapter_gguf``, base and adapted.

    Each prompt is a chat rendered with the chat template, generation prompt added. With ``exact`` the
    same is done against a float32 copy of the base (written to a temporary file in ``workdir``, about
    0.5 GB for SmolLM2-135M), where torch and llama.cpp compute on identical weights: that comparison
    is tight (:data:`EXACT_TOLERANCE`); the one against the 4-bit base allows for quantization noise
    (:data:`DEPLOYED_TOLERANCE`, plus twice the bare bases' own difference).
    """
    import tempfile

    import torch

    model.eval()
    ids = [encode_chat(tokenizer, chat, generation_prompt=True)[0] for chat in prompts]
    threads = threads or max(1, torch.get_num_threads())
    tf_base = _torch_logprobs(model, ids, adapter=False)
    tf_lora = _torch_logprobs(model, ids, adapter=True)
    base, adapter = Path(base_gguf), Path(adapter_gguf)

    def against(path: Path, reference: str, tolerance: tuple[float, float], noise: float) -> Comparison:
        cpp_base = _llama_logprobs(path, None, ids, top_k, threads)
        cpp_lora = _llama_logprobs(path, adapter, ids, top_k, threads)
        return _compare(reference, cpp_base, cpp_lora, tf_base, tf_lora, tolerance, noise)

    exact_check = None
    if exact:
        with tempfile.TemporaryDirectory(prefix="drain-verify-", dir=workdir) as scratch:
            copy = dequantized_copy(base, Path(scratch) / "base-f32.gguf")
            exact_check = against(copy, "float32 base", EXACT_TOLERANCE, 0.0)
    deployed = against(base, f"{base.name}", DEPLOYED_TOLERANCE, 2.0)
    passed = deployed.passed and (exact_check is None or exact_check.passed)
    return VerifyReport(len(ids), top_k, exact_check, deployed, passed)


def export_merged(model: Any, tokenizer: Any, folder: str | os.PathLike[str], dtype: str = "bfloat16") -> Path:
    """Merge the LoRA into the base weights and save a Hugging Face folder (for ``vllm serve``).

    This folds the adapter into ``model`` in place: call it last.
    """
    import torch

    merged = model.merge_and_unload()
    merged = merged.to(getattr(torch, dtype))
    merged.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], *,
                generation_prompt: bool = False) -> tuple[list[int], list[bool]]:
    """Token ids of a chat through the tokenizer's chat template, and which of them are assistant replies.

    Every assistant turn (its text and end-of-turn marker) is marked; the template's scaffolding and the
    system and user turns are not. With ``generation_prompt`` the assistant header is appended.
    """
    ids: list[int] = []
    mask: list[bool] = []
    for end in range(1, len(messages) + 1):
        last = end == len(messages)
        text = _render(tokenizer, messages[:end], generation_prompt and last)
        if messages[end - 1]["role"] == "assistant":
            header = _render(tokenizer, messages[:end - 1], True)
            head_ids = _tokens(tokenizer, header)
            if head_ids[:len(ids)] != ids:
                raise ExportError("the chat template does not render a conversation as a prefix of its continuation")
            mask += [False] * (len(head_ids) - len(ids))
            ids = head_ids
        full = _tokens(tokenizer, text)
        if full[:len(ids)] != ids:
            raise ExportError("the chat template does not render a conversation as a prefix of its continuation")
        mask += [messages[end - 1]["role"] == "assistant"] * (len(full) - len(ids))
        ids = full
    return ids, mask


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    if not messages:
        return ""
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt))


def _tokens(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []
