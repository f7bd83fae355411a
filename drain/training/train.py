"""LoRA fine-tuning of the base model on DRAIN's chat data, with checkpoints, resume and the exports.

The base is the SmolLM2 GGUF read through transformers (converted once into a cached Hugging Face
folder) or any local Hugging Face model folder. The loss covers the assistant replies only; the rest of
each chat (system, user, template markup) is context. ``train`` leaves in the output folder the PEFT
adapter, ``drain-lora.gguf`` (llama.cpp), the merged model (``merged/``, for ``vllm serve``) and a run card.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drain.errors import InputError, TrainingDependencyError
from drain.training import card as run_card

__all__ = [
    "TRAIN_INSTALL",
    "TrainSettings",
    "TrainingDependencyError",
    "load_base",
    "read_chat_data",
    "reexport",
    "require_training_packages",
    "train",
]

TRAIN_INSTALL = "pip install torch==2.13.0 && pip install 'drain-tips[train]'"
TRAIN_PACKAGES = ("torch", "transformers", "peft", "accelerate", "gguf", "safetensors")
DEV_FILES = ("dev.jsonl", "valid.jsonl")  # the held-out split; `drain dataset build` writes valid.jsonl
DEV_LIMIT = 50  # held-out examples scored at each checkpoint
Progress = Callable[[str, dict[str, Any]], None]



def require_training_packages() -> None:
    """Raise one clear error naming the install command when a training package is missing."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise TrainingDependencyError(f"training needs {', '.join(missing)}; install with: {TRAIN_INSTALL}")


@dataclass
class TrainSettings:
    """Everything that shapes a training run (recorded in the run card and the checkpoints)."""

    base: str | None = None  # a .gguf file or a Hugging Face folder; None: the default SmolLM2 GGUF
    epochs: float = 1.0
    max_steps: int | None = None  # optimizer steps; overrides epochs
    lr: float = 2e-4
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    targets: str = "all-linear"  # or a comma list: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
    seq_len: int = 512
    batch_size: int = 4
    grad_accum: int = 2
    bf16: bool | None = None  # None: where the hardware has it
    save_every: int = 50
    warmup: float = 0.05  # fraction of the steps
    seed: int = 0
    merged: bool = True
    verify: bool = True
    threads: int | None = None
    gguf_type: str = "f32"  # how drain-lora.gguf stores its tensors: f32, or f16 (half the size)


@dataclass
class Example:
    """One chat as token ids, and labels: the ids of assistant tokens, -100 elsewhere."""

    ids: list[int]
    labels: list[int]

    @property
    def tokens(self) -> int:
        return len(self.ids)


def read_chat_data(path: str | os.PathLike[str]) -> tuple[list[list[dict[str, str]]], list[list[dict[str, str]]], str]:
    """Train chats, dev chats and a sha256 of the data: a JSONL file, or a folder with train.jsonl and
    optionally dev.jsonl or valid.jsonl."""
    source = Path(path)
    files = {"train": source}
    if source.is_dir():
        files = {"train": source / "train.jsonl"}
        held_out = [source / name for name in DEV_FILES if (source / name).is_file()]
        if held_out:
            files["dev"] = held_out[0]
    if not files["train"].is_file():
        raise InputError(f"no training data at {files['train']}")
    digest = hashlib.sha256()
    chats: dict[str, list[list[dict[str, str]]]] = {"train": [], "dev": []}
    for split, file in files.items():
        data = file.read_bytes()
        digest.update(split.encode() + b"\0" + data)
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if line.strip():
                chats[split].append(_parse_chat(line, f"{file}:{number}"))
    if not chats["train"]:
        raise InputError(f"{files['train']} holds no examples")
    return chats["train"], chats["dev"], digest.hexdigest()


def _parse_chat(line: str, where: str) -> list[dict[str, str]]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not JSON ({err.msg})") from None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InputError(f"{where}: no \"messages\" list")
    chat = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant") \
                or not isinstance(message.get("content"), str):
            raise InputError(f"{where}: each message needs a role (system, user, assistant) and text content")
        chat.append({"role": message["role"], "content": message["content"]})
    if not any(m["role"] == "assistant" for m in chat):
        raise InputError(f"{where}: no assistant reply to learn")
    return chat


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def base_cache_dir() -> Path:
    """Where GGUF bases converted to Hugging Face folders are kept."""
    from drain.store import default_home

    return default_home() / "cache" / "bases"


def load_base(base: str | os.PathLike[str] | None, dtype: Any = None,
              report: Progress | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """The base model (float32 unless ``dtype``), its tokenizer and a description of where it came from.

    A GGUF file is dequantized through transformers once and cached as a Hugging Face folder (the
    conversion takes about a minute on two cores; the cached load, a second or two).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    info: dict[str, Any] = {}
    if base is None:
        from drain.backends.embedded import default_model_path

        base = default_model_path()
    path = Path(base)
    if path.is_file() and path.suffix == ".gguf":
        info.update(gguf=str(path.resolve()), gguf_sha256=_file_digest(path))
        folder = base_cache_dir() / f"{path.stem}-{info['gguf_sha256'][:12]}"
        if not (folder / "config.json").is_file():
            if report is not None:
                report("convert", {"gguf": str(path), "folder": str(folder)})
            _convert_gguf(path, folder)
        path = folder
    elif not (path / "config.json").is_file():
        raise InputError(f"--base must be a .gguf file or a Hugging Face model folder, not {path}")
    info["hf_dir"] = str(path.resolve())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"the base model at {path} has no chat template")
    return model, tokenizer, info


def _convert_gguf(gguf_file: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_file.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, **kwargs)
        try:  # transformers 5 can keep GGUF blocks packed; ask for plain float weights
            from transformers import GgufConfig

            kwargs["quantization_config"] = GgufConfig(gguf_file=str(gguf_file), dequantize=True)
        except ImportError:
            pass
        model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, dtype=torch.float32, **kwargs)
    except (ValueError, KeyError, OSError, RuntimeError) as err:
        raise InputError(f"transformers cannot read {gguf_file}: {err}") from None
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the weights are dequantized already; drop the marker that blocks saving
        quantizer.remove_quantization_config(model)
    if not all(p.dtype.is_floating_point for p in model.parameters()):
        raise InputError(f"transformers kept {gguf_file} quantized; give --base a Hugging Face folder instead")
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def bf16_supported(device: Any) -> bool:
    """Whether ``device`` computes in bfloat16 natively (CUDA with bf16, a CPU with AVX-512 BF16 or AMX)."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def default_threads() -> int:
    """CPU threads for torch: the cores not already busy (CPU count minus the 1-minute load average).

    Oversubscribed cores cost torch dearly: on two cores with one busy, two threads trained at 17
    tokens/s and one thread at 58.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def encode_examples(tokenizer: Any, chats: list[list[dict[str, str]]], seq_len: int) -> tuple[list[Example], int]:
    """Token ids and labels (-100 outside assistant replies), cut at ``seq_len``; and how many were dropped."""
    from drain.training.lora_gguf import encode_chat

    examples, dropped = [], 0
    for chat in chats:
        ids, mask = encode_chat(tokenizer, chat)
        ids, mask = ids[:seq_len], mask[:seq_len]
        if not any(mask[1:]):  # nothing left to learn once cut (the first token is never predicted)
            dropped += 1
            continue
        examples.append(Example(ids, [t if m else -100 for t, m in zip(ids, mask, strict=True)]))
    return examples, dropped


def _batches(examples: list[Example], order: list[int], size: int) -> list[list[Example]]:
    return [[examples[i] for i in order[start:start + size]] for start in range(0, len(order), size)]


def _collate(batch: list[Example], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    width = max(e.tokens for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        ids[row, :example.tokens] = torch.tensor(example.ids)
        labels[row, :example.tokens] = torch.tensor(example.labels)
        attention[row, :example.tokens] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": attention.to(device)}


# Decoders whose logits are exactly lm_head(last hidden state): for them only the labelled positions
# go through lm_head (a 49152 x 576 matrix for SmolLM2: a third of a training step when run everywhere).
PLAIN_HEAD = {"llama", "mistral", "qwen2", "qwen3"}


def _token_loss_sum(model: Any, inputs: dict[str, Any]) -> tuple[Any, int]:
    """Summed next-token cross-entropy over the labelled tokens, and how many there were."""
    import torch

    labels = inputs["labels"][:, 1:]
    keep = labels != -100
    base = model.get_base_model()
    if base.config.model_type in PLAIN_HEAD:
        hidden = base.get_decoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        logits = base.get_output_embeddings()(hidden.last_hidden_state[:, :-1][keep])
    else:
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[:, :-1][keep]
    loss = torch.nn.functional.cross_entropy(logits.float(), labels[keep], reduction="sum")
    return loss, int(keep.sum())


def evaluate_loss(model: Any, examples: list[Example], settings: TrainSettings, pad_id: int, device: Any,
                  autocast: Any) -> float | None:
    """Mean loss per assistant token over ``examples`` (the dev set)."""
    import torch

    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in _batches(examples, list(range(len(examples))), settings.batch_size):
            with autocast():
                loss, tokens = _token_loss_sum(model, _collate(batch, pad_id, device))
            total, count = total + float(loss), count + tokens
    model.train()
    return total / max(1, count)


def _schedule(settings: TrainSettings, total: int) -> Callable[[int], float]:
    warmup = max(1, round(settings.warmup * total))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@dataclass
class _Optimising:
    """What one optimizer step needs: the model and its optimizer, the batching and the precision."""

    model: Any
    optimizer: Any
    scheduler: Any
    trainable: list[Any]
    pad_id: int
    device: Any
    autocast: Callable[[], Any]

    def step(self, micro: list[list[Example]]) -> tuple[float, int]:
        """One optimizer step over the micro-batches ``micro``: its mean token loss and the tokens read."""
        import torch

        labelled = sum(sum(label != -100 for label in e.labels[1:]) for batch in micro for e in batch)
        step_loss, tokens = 0.0, 0
        for batch in micro:
            with self.autocast():
                loss, _ = _token_loss_sum(self.model, _collate(batch, self.pad_id, self.device))
            (loss / labelled).backward()
            step_loss += loss.item() / labelled
            tokens += sum(e.tokens for e in batch)
        torch.nn.utils.clip_grad_norm_(self.trainable, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return step_loss, tokens


def _with_lora(model: Any, settings: TrainSettings, device: Any) -> Any:
    """``model`` with fresh LoRA layers on ``settings.targets``, in training mode on ``device``."""
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = settings.targets if settings.targets == "all-linear" else \
        [t.strip() for t in settings.targets.split(",") if t.strip()]
    lora = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=targets, task_type="CAUSAL_LM", bias="none")
    try:
        model = get_peft_model(model, lora).to(device)
    except ValueError as err:
        raise InputError(f"--targets {settings.targets}: {err}") from None
    model.train()
    return model


def _chunk(examples: list[Example], seed: int, step: int, steps_per_epoch: int,
           per_step: int) -> tuple[int, list[int]]:
    """The epoch of optimizer step ``step`` and the indexes of its examples (the epoch's own shuffle),
    shortest first so that examples of like lengths share a micro-batch (less padding)."""
    epoch, offset = divmod(step, steps_per_epoch)
    order = list(range(len(examples)))
    random.Random(seed + epoch).shuffle(order)
    return epoch, sorted(order[offset * per_step:(offset + 1) * per_step], key=lambda i: examples[i].tokens)


def _checkpoint(out: Path, optimising: _Optimising, dev_set: list[Example], settings: TrainSettings,
                state: run_card.RunState, report: Progress) -> None:
    """Score the held-out examples, then save the adapter, the optimizer and ``state`` as a checkpoint."""
    dev = evaluate_loss(optimising.model, dev_set, settings, optimising.pad_id, optimising.device,
                        optimising.autocast)
    if dev is not None:
        state.dev_losses.append([state.step, round(dev, 5)])
    path = run_card.save(out, optimising.model, optimising.optimizer, optimising.scheduler, state)
    report("checkpoint", {"step": state.step, "path": str(path), "dev_loss": dev})


def train(data: str | os.PathLike[str], out: str | os.PathLike[str], settings: TrainSettings, *,
          resume: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Train a LoRA adapter on ``data`` into ``out``, export it, and return the run card (also written)."""
    require_training_packages()
    import torch

    report = progress or (lambda kind, info: None)
    out = Path(out)
    train_chats, dev_chats, data_hash = read_chat_data(data)
    run_card.check_fresh(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(settings.threads or default_threads())
    torch.manual_seed(settings.seed)
    started = time.time()
    report("load", {"base": settings.base or "SmolLM2-135M (the default GGUF)"})
    model, tokenizer, base_info = load_base(settings.base, report=report)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = bf16_supported(device) if settings.bf16 is None else settings.bf16
    train_set, dropped = encode_examples(tokenizer, train_chats, settings.seq_len)
    dev_set, _ = encode_examples(tokenizer, dev_chats[:DEV_LIMIT], settings.seq_len)
    if not train_set:
        raise InputError(f"no training example keeps an assistant token within --seq-len {settings.seq_len}")
    model = _with_lora(model, settings, device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=0.0)
    per_step = settings.batch_size * settings.grad_accum
    steps_per_epoch = math.ceil(len(train_set) / per_step)
    total = settings.max_steps or max(1, math.ceil(settings.epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(settings, total))
    state = run_card.RunState(data_hash=data_hash, settings=asdict(settings))
    if resume:
        state = run_card.restore(out, model, optimizer, scheduler, state) or state
    optimising = _Optimising(model, optimizer, scheduler, trainable, int(tokenizer.pad_token_id), device,
                             lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16))
    report("start", {"total": total, "step": state.step, "examples": len(train_set), "dropped": dropped,
                     "bf16": use_bf16, "device": device.type})
    while state.step < total:
        step_started = time.perf_counter()
        epoch, chunk = _chunk(train_set, settings.seed, state.step, steps_per_epoch, per_step)
        step_loss, tokens = optimising.step(_batches(train_set, chunk, settings.batch_size))
        state.step, state.tokens = state.step + 1, state.tokens + tokens
        state.seconds += time.perf_counter() - step_started
        state.losses.append(round(step_loss, 5))
        report("step", {"step": state.step, "total": total, "loss": step_loss, "lr": scheduler.get_last_lr()[0],
                        "tokens_per_second": state.tokens / max(state.seconds, 1e-9), "epoch": epoch + 1})
        if state.step % settings.save_every == 0 or state.step == total:
            _checkpoint(out, optimising, dev_set, settings, state, report)
    model.save_pretrained(out)
    exports = run_card.export_run(model, tokenizer, out, base_info, settings,
                                  run_card.verify_prompts(dev_chats or train_chats), report)
    counts = {"train": len(train_set), "dev": len(dev_set), "dropped": dropped,
              "steps_per_epoch": steps_per_epoch, "total_steps": total}
    runtime = {"device": device.type, "bf16": use_bf16, "threads": torch.get_num_threads(),
               "torch": torch.__version__, "wall_seconds": round(time.time() - started, 1)}
    card = run_card.write_card(out, state, data=str(data), base=base_info, counts=counts, runtime=runtime,
                               exports=exports)
    report("done", {"card": str(out / "run_card.md")})
    return card


def reexport(out: Path, *, gguf_type: str, verify: bool = True, report: Progress | None = None) -> dict[str, Any]:
    """Write ``out/drain-lora.gguf`` again from the finished run's PEFT adapter (say, as ``f16``), check it
    like ``drain train`` does, and record the new export in the run card. Returns the card.
    """
    from peft import PeftModel

    card_path = out / "run_card.json"
    if not card_path.is_file() or not (out / "adapter_config.json").is_file():
        raise InputError(f"{out} is not a finished `drain train` folder (no run_card.json or adapter_config.json)")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    report = report or (lambda kind, info: None)
    base = card["base"].get("gguf") or card["base"].get("hf_dir")
    model, tokenizer, base_info = load_base(base, report=report)
    model = PeftModel.from_pretrained(model, str(out))
    prompts: list[list[dict[str, str]]] = []
    if verify and Path(card["data"]["path"]).exists():
        train_chats, dev_chats, _ = read_chat_data(card["data"]["path"])
        prompts = run_card.verify_prompts(dev_chats or train_chats)
    settings = TrainSettings(verify=verify, merged=False, gguf_type=gguf_type)
    exports = run_card.export_run(model, tokenizer, out, base_info, settings, prompts, report, keep_merged=True)
    if card["exports"].get("merged") and (out / "merged").is_dir():
        exports["merged"] = card["exports"]["merged"]
    card["exports"] = {key: value for key, value in exports.items() if value is not None}
    card["settings"]["gguf_type"] = gguf_type
    card_path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    (out / "run_card.md").write_text(run_card.card_markdown(card), encoding="utf-8")
    return card
