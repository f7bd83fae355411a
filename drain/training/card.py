"""The record of a training run: its state (saved with each checkpoint, restored on resume), its exports
and its card.

``OUT/checkpoints/step-NNNNNN/`` holds the adapter, the optimizer and scheduler and ``state.json``;
the last two are kept. ``OUT/run_card.json``, ``OUT/run_card.md`` and ``OUT/loss.png`` describe the run:
data hash, settings, base, loss curve, time and tokens per second, exports and their verification.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drain.errors import InputError

__all__ = ["RunState", "card_markdown", "check_fresh", "export_run", "latest_checkpoint", "plot_losses", "restore",
           "save", "verify_prompts", "write_card"]

KEEP_CHECKPOINTS = 2
# Settings that may change on resume without invalidating the checkpoint.
RESUMABLE = {"epochs", "max_steps", "save_every", "merged", "verify", "threads", "bf16", "gguf_type"}


@dataclass
class RunState:
    """Where a run stands: optimizer steps done, training tokens read, seconds spent, the loss history."""

    data_hash: str
    settings: dict[str, Any]
    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    dev_losses: list[list[float]] = field(default_factory=list)
    resumed_from: int | None = None


def _checkpoint_dir(out: Path) -> Path:
    return out / "checkpoints"


def latest_checkpoint(out: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``out/checkpoints``, if any."""
    found = sorted(p for p in _checkpoint_dir(Path(out)).glob("step-*") if (p / "state.json").is_file())
    return found[-1] if found else None


def check_fresh(out: Path, resume: bool) -> None:
    """Refuse to start over a previous run's checkpoints unless resuming."""
    if not resume and latest_checkpoint(out) is not None:
        raise InputError(f"{out} already holds a training run; add --resume to continue it, or pick another folder")


def save(out: Path, model: Any, optimizer: Any, scheduler: Any, state: RunState) -> Path:
    """Write a checkpoint for ``state.step`` (atomically: a folder renamed into place); keep the last two."""
    import torch

    target = _checkpoint_dir(out) / f"step-{state.step:06d}"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state()}, partial / "trainer.pt")
    (partial / "state.json").write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    for old in sorted(_checkpoint_dir(out).glob("step-*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def restore(out: Path, model: Any, optimizer: Any, scheduler: Any, fresh: RunState) -> RunState | None:
    """Load the newest checkpoint into ``model``, ``optimizer`` and ``scheduler``; None when there is none."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = latest_checkpoint(out)
    if path is None:
        return None
    saved = RunState(**json.loads((path / "state.json").read_text(encoding="utf-8")))
    if saved.data_hash != fresh.data_hash:
        raise InputError(f"the data changed since the checkpoint in {path}; train into another folder")
    changed = sorted(k for k, v in fresh.settings.items() if k not in RESUMABLE and saved.settings.get(k) != v)
    if changed:
        raise InputError(f"cannot resume {path} with different {', '.join(changed)}")
    set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
    trainer = torch.load(path / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    torch.set_rng_state(trainer["rng"])
    saved.settings = fresh.settings
    saved.resumed_from = saved.step
    return saved


def verify_prompts(chats: list[list[dict[str, str]]], count: int = 3) -> list[list[dict[str, str]]]:
    """The ``count`` shortest contexts before an assistant reply: prompts for the export check."""
    contexts = []
    for chat in chats:
        last = max(i for i, m in enumerate(chat) if m["role"] == "assistant")
        if last:
            contexts.append(chat[:last])
    return sorted(contexts, key=lambda c: sum(len(m["content"]) for m in c))[:count]


def export_run(model: Any, tokenizer: Any, out: Path, base_info: dict[str, Any], settings: Any,
               prompts: list[list[dict[str, str]]], report: Callable[[str, dict[str, Any]], None], *,
               keep_merged: bool = False) -> dict[str, Any]:
    """Write ``drain-lora.gguf`` (checked against torch where the base is a GGUF) and ``merged/``.

    Without ``settings.merged`` an old ``merged/`` is removed (it belonged to another adapter) unless
    ``keep_merged`` says it still matches.
    """
    import torch

    from drain.training.lora_gguf import ADAPTER_FILE, export_lora_gguf, export_merged, verify_export

    result: dict[str, Any] = {"peft_adapter": str(out)}
    report("export", {"what": ADAPTER_FILE})
    config = model.get_base_model().config.to_dict()
    gguf_type = getattr(settings, "gguf_type", "f32")
    gguf_path = export_lora_gguf(out, out / ADAPTER_FILE, config, dtype=gguf_type)
    result.update(gguf_adapter=str(gguf_path), gguf_type=gguf_type, gguf_bytes=gguf_path.stat().st_size)
    if settings.verify and "gguf" in base_info and prompts:
        report("verify", {"prompts": len(prompts)})
        verified = verify_export(model, tokenizer, base_info["gguf"], gguf_path, prompts, workdir=out,
                                 threads=torch.get_num_threads())
        result["verify"] = verified.as_dict()
        report("verified", {"summary": verified.summary(), "passed": verified.passed})
    else:
        why = "turned off" if not settings.verify else "the base is not a GGUF file" if "gguf" not in base_info \
            else "no prompts"
        result["verify"] = {"skipped": why}
    if settings.merged:
        report("export", {"what": "merged"})
        result["merged"] = str(export_merged(model, tokenizer, out / "merged"))
    elif (out / "merged").is_dir() and not keep_merged:
        shutil.rmtree(out / "merged")
    return result


def plot_losses(state: RunState, path: Path) -> Path | None:
    """The loss curve (train per step, dev at checkpoints) as a PNG; None without matplotlib or steps."""
    if not state.losses:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot(range(1, len(state.losses) + 1), state.losses, label="train (assistant tokens)", linewidth=1.2)
    if state.dev_losses:
        axes.plot([s for s, _ in state.dev_losses], [v for _, v in state.dev_losses], "o-", label="dev")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (nats/token)")
    axes.set_title("DRAIN LoRA training")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def _data_card_facts(data: str) -> dict[str, Any]:
    """What ``drain dataset build`` recorded about the data (its sources, the store exports with the votes
    they carried, the house library's version), when the data folder has its data card."""
    folder = Path(data) if Path(data).is_dir() else Path(data).parent
    path = folder / "data_card.json"
    if not path.is_file():
        return {}
    made = json.loads(path.read_text(encoding="utf-8"))
    keys = ("built_at", "by_source", "by_step", "library_digest", "library_cases", "gold_records", "exports",
            "store_examples")
    return {"data_card": {key: made[key] for key in keys if key in made}}


def write_card(out: Path, state: RunState, *, data: str, base: dict[str, Any], counts: dict[str, Any],
               runtime: dict[str, Any], exports: dict[str, Any]) -> dict[str, Any]:
    """Write ``run_card.json``, ``run_card.md`` and ``loss.png`` into ``out``; return the card."""
    trained = state.step - (state.resumed_from or 0)
    card = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"path": str(data), "sha256": state.data_hash, **counts, **_data_card_facts(data)},
        "base": base,
        "settings": state.settings,
        "results": {
            "steps": state.step,
            "resumed_from_step": state.resumed_from,
            "final_loss": state.losses[-1] if state.losses else None,
            "first_loss": state.losses[0] if state.losses else None,
            "dev_loss": state.dev_losses[-1][1] if state.dev_losses else None,
            "train_seconds": round(state.seconds, 1),
            "seconds_per_step": round(state.seconds / state.step, 2) if state.step else None,
            "training_tokens": state.tokens,
            "tokens_per_second": round(state.tokens / state.seconds, 1) if state.seconds else None,
            "steps_this_session": trained,
            "losses": state.losses,
            "dev_losses": state.dev_losses,
        },
        "runtime": {**runtime, "python": platform.python_version(), "machine": platform.machine()},
        "exports": exports,
    }
    (out / "run_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    card["results"]["loss_png"] = str(plot_losses(state, out / "loss.png") or "")
    (out / "run_card.md").write_text(card_markdown(card), encoding="utf-8")
    return card


def card_markdown(card: dict[str, Any]) -> str:
    """The run card as Markdown."""
    results, settings, runtime = card["results"], card["settings"], card["runtime"]
    rows = [
        "# DRAIN LoRA run card", "",
        f"Finished {card['finished']}.", "",
        "## Data", "",
        f"- {card['data']['path']} (sha256 `{card['data']['sha256'][:16]}…`)",
        f"- {card['data']['train']} train examples, {card['data']['dev']} dev, "
        f"{card['data']['dropped']} dropped (no assistant token within the sequence length)", "",
        "## Base", "",
        *[f"- {key}: `{value}`" for key, value in card["base"].items()], "",
        "## Settings", "",
        "| setting | value |", "|---|---|",
        *[f"| {key} | {value} |" for key, value in settings.items()], "",
        "## Results", "",
        f"- {results['steps']} optimizer steps, loss {results['first_loss']} → {results['final_loss']}"
        + (f", dev loss {results['dev_loss']}" if results["dev_loss"] is not None else ""),
        f"- {results['train_seconds']} s training, {results['seconds_per_step']} s/step, "
        f"{results['training_tokens']} tokens, {results['tokens_per_second']} tokens/s",
        f"- {runtime['device']}, bf16 {runtime['bf16']}, {runtime['threads']} threads, torch {runtime['torch']}",
        "", "![loss](loss.png)", "",
        "## Exports", "",
    ]
    for key, value in card["exports"].items():
        text = value.get("summary", json.dumps(value)) if isinstance(value, dict) else value
        rows.append(f"- {key}: {text}")
    return "\n".join(rows) + "\n"

