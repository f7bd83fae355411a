"""``drain train``, ``drain model install|export|info`` and ``drain serve-model``: building and serving the
DRAIN model."""

from __future__ import annotations

import importlib.util
import json
import shlex
import shutil
import subprocess
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.commands.options import BACKEND, CommandLine, with_options
from drain.commands.output import TextOrJson, print_json
from drain.errors import BackendUnavailableError, ExportError, InputError


class GgufType(StrEnum):
    """How drain-lora.gguf stores its tensors."""

    f32 = "f32"
    f16 = "f16"


SOURCE_RECORD = "drain-lora.json"  # beside the installed adapter: the training folder it came from


def train(
    data: Path = typer.Argument(..., help="Chat JSONL file, or a folder holding train.jsonl (and dev.jsonl or "
                                "valid.jsonl, held out for the dev loss)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: adapter, drain-lora.gguf, merged/, run card."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Optimizer steps (overrides --epochs)."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.01, help="Passes over the training data."),
    lr: float = typer.Option(2e-4, "--lr", min=0.0, help="Peak learning rate (warm-up, then cosine to 10%)."),
    rank: int = typer.Option(16, "--rank", "-r", min=1, max=256, help="LoRA rank."),
    alpha: float = typer.Option(32.0, "--alpha", min=0.0, help="LoRA alpha (scale = alpha / rank)."),
    targets: str = typer.Option("all-linear", "--targets", help="all-linear, or a comma list of modules: "
                                "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj."),
    seq_len: int = typer.Option(512, "--seq-len", min=16, help="Tokens per example (longer ones are cut)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Examples per forward pass."),
    grad_accum: int = typer.Option(2, "--grad-accum", min=1, help="Forward passes per optimizer step."),
    base: str | None = typer.Option(None, "--base", help="Base model: a .gguf file or a Hugging Face folder "
                                    "(default: the SmolLM2-135M GGUF the embedded backend runs)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in OUT/checkpoints."),
    bf16: bool | None = typer.Option(None, "--bf16/--no-bf16", help="bfloat16 compute (default: where the "
                                     "hardware has it)."),
    save_every: int = typer.Option(50, "--save-every", min=1, help="Checkpoint every N optimizer steps."),
    no_merged: bool = typer.Option(False, "--no-merged", help="Skip the merged Hugging Face model (OUT/merged)."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip comparing the GGUF adapter with transformers."),
    seed: int = typer.Option(0, "--seed", help="Shuffling and initialisation seed."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads for torch."),
    gguf_type: GgufType = typer.Option(GgufType.f32, "--gguf-type", help="drain-lora.gguf tensors: f32, or f16 "
                                       "(half the size)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Fine-tune the base model with LoRA on chat data; export the PEFT adapter, drain-lora.gguf and merged/.

    The loss covers the assistant replies only. The GGUF adapter is checked against transformers
    (next-token log-probabilities) before the command succeeds; install it with `drain model install OUT`.
    """
    from drain.training.train import TrainSettings, require_training_packages
    from drain.training.train import train as run_training

    require_training_packages()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notes from transformers and peft
    settings = TrainSettings(base=base, epochs=epochs, max_steps=max_steps, lr=lr, rank=rank, alpha=alpha,
                             targets=targets, seq_len=seq_len, batch_size=batch_size, grad_accum=grad_accum,
                             bf16=bf16, save_every=save_every, merged=not no_merged, verify=not no_verify,
                             seed=seed, threads=threads, gguf_type=gguf_type.value)
    with TrainProgress(enabled=not quiet) as progress:
        card = run_training(data, out, settings, resume=resume, progress=progress.event)
    results, exports = card["results"], card["exports"]
    typer.echo(f"trained {results['steps']} steps: loss {results['first_loss']} -> {results['final_loss']}, "
               f"{results['seconds_per_step']} s/step, {results['tokens_per_second']} tokens/s")
    typer.echo(f"PEFT adapter:  {exports['peft_adapter']}")
    typer.echo(f"GGUF adapter:  {exports['gguf_adapter']}")
    if exports.get("merged"):
        typer.echo(f"merged model:  {exports['merged']}")
    verify = exports["verify"]
    typer.echo(verify.get("summary") or f"GGUF adapter check skipped: {verify.get('skipped')}")
    typer.echo(f"run card:      {out / 'run_card.md'}")
    if verify.get("passed") is False:
        raise ExportError("the GGUF adapter does not reproduce the trained adapter in llama.cpp (see the run card)")
    typer.echo(f"next: drain model install {out}   (or: drain solve --adapter {exports['gguf_adapter']} ...)")


class TrainProgress:
    """A rich progress bar (loss, tokens/s) on a terminal; plain lines on stderr otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live = enabled and sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _line(self, text: str) -> None:
        if self.enabled:
            if self.bar is not None:
                self.bar.console.print(text)
            else:
                sys.stderr.write(text + "\n")
                sys.stderr.flush()

    def event(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "start" and self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("loss {task.fields[loss]}  {task.fields[speed]} tok/s"),
                                TimeRemainingColumn(), console=Console(stderr=True))
            self.task = self.bar.add_task("train", total=info["total"], completed=info["step"], loss="-", speed="-")
            self.bar.start()
        if kind == "start":
            resumed = f", resuming at step {info['step']}" if info["step"] else ""
            self._line(f"{info['examples']} examples ({info['dropped']} dropped), {info['total']} steps on "
                       f"{info['device']}{' in bf16' if info['bf16'] else ''}{resumed}")
        elif kind == "step" and self.bar is not None:
            self.bar.update(self.task, completed=info["step"], loss=f"{info['loss']:.3f}",
                            speed=f"{info['tokens_per_second']:.0f}")
        elif kind == "step":
            self._line(f"step {info['step']}/{info['total']}  loss {info['loss']:.4f}  lr {info['lr']:.2e}  "
                       f"{info['tokens_per_second']:.0f} tok/s")
        elif kind == "load":
            self._line(f"loading {info['base']}")
        elif kind == "convert":
            self._line(f"converting {info['gguf']} for transformers, once (about a minute): {info['folder']}")
        elif kind == "checkpoint":
            dev = f" (dev loss {info['dev_loss']:.4f})" if info.get("dev_loss") is not None else ""
            self._line(f"checkpoint {info['path']}{dev}")
        elif kind == "export":
            self._line(f"exporting {info['what']}")
        elif kind == "verify":
            self._line(f"checking the GGUF adapter in llama.cpp against transformers on {info['prompts']} prompts")


def model_export(
    out: Path = typer.Argument(..., help="A finished `drain train` output folder."),
    gguf_type: GgufType = typer.Option(GgufType.f16, "--gguf-type", help="f16 (half the size) or f32."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip comparing the GGUF adapter with transformers."),
) -> None:
    """Write OUT/drain-lora.gguf again from the run's PEFT adapter, checked as `drain train` checks it."""
    from drain.training.train import reexport, require_training_packages

    require_training_packages()
    warnings.filterwarnings("ignore", category=FutureWarning)
    with TrainProgress(enabled=True) as progress:
        card = reexport(out, gguf_type=gguf_type.value, verify=not no_verify, report=progress.event)
    exports = card["exports"]
    typer.echo(f"GGUF adapter:  {exports['gguf_adapter']} ({gguf_type.value}, {exports['gguf_bytes']} bytes)")
    verify = exports["verify"]
    typer.echo(verify.get("summary") or f"GGUF adapter check skipped: {verify.get('skipped')}")
    if verify.get("passed") is False:
        raise ExportError("the GGUF adapter does not reproduce the trained adapter in llama.cpp (see the run card)")


@with_options(BACKEND.only("threads"))  # the llama.cpp check's threads, as the embedded model's
def model_phone(
    adapter: Path | None = typer.Argument(None, help="drain-lora.gguf or a `drain train` folder (default: the "
                                          "adapter the embedded backend uses)."),
    output: Path = typer.Option(Path("drain-phone.gguf"), "--output", "-o", help="The merged GGUF to write."),
    quant: str = typer.Option("q8_0", "--quant", help="q8_0 (about 145 MB) or q4_0 (about 92 MB, coarser)."),
    *,
    cli: CommandLine,
) -> None:
    """Merge the DRAIN adapter into the base model as one quantized GGUF for a phone, and check it in llama.cpp."""
    from drain.adapters import resolve_adapter
    from drain.backends.embedded import default_model_path, default_threads
    from drain.training.phone_gguf import PHONE_LIMIT_MB, merge_adapter_gguf, probe_prompts, verify_merged

    source = adapter / "drain-lora.gguf" if adapter is not None and adapter.is_dir() else adapter
    lora = resolve_adapter(source, home=cli.config.home)
    if lora is None:
        raise InputError("no DRAIN adapter is installed or shipped; give one: drain model phone PATH")
    check_path = output.with_name(output.name + ".check.json")
    from drain.commands.common import check_output_path

    check_output_path(output, "--output")
    base = default_model_path()
    merge_adapter_gguf(base, lora, output, quant=quant)
    report = verify_merged(output, base, lora, probe_prompts(), quant=quant,
                           threads=cli.config.threads or default_threads(cli.config),
                           workdir=output.parent)
    check_path.write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output} ({report.size_mb} MB, {quant}; limit {PHONE_LIMIT_MB} MB): merged vs base + adapter "
               f"{report.merged_vs_adapter} (allowed {report.tolerance}; the adapter moves {report.adapter_effect})")
    if not report.passed:
        raise ExportError(f"the merged file does not match base + adapter in llama.cpp (see {check_path})")


@with_options()
def model_install(path: Path = typer.Argument(..., help="drain-lora.gguf, or a `drain train` output folder."), *,
                  cli: CommandLine) -> None:
    """Install a DRAIN adapter: the embedded backend then applies it by default (--no-adapter to skip)."""
    from drain.adapters import install_adapter

    target = install_adapter(path, home=cli.config.home)
    folder = path if path.is_dir() else path.parent
    record: dict[str, Any] = {"source": str(path.resolve())}
    if (folder / "adapter_config.json").is_file():
        record["peft_adapter"] = str(folder.resolve())
    (target.parent / SOURCE_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
    typer.echo(f"installed {target}")


def _adapter_facts(path: Path) -> dict[str, Any]:
    try:
        import gguf
    except ImportError:
        return {}
    reader = gguf.GGUFReader(str(path))
    alpha = reader.fields.get("adapter.lora.alpha")
    tensors = [t for t in reader.tensors if t.name.endswith(".lora_a")]
    return {"alpha": float(alpha.contents()) if alpha else None, "lora_pairs": len(tensors),
            "rank": int(min(tensors[0].shape)) if tensors else None}


@with_options()
def model_info(fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="text or json."), *,
               cli: CommandLine) -> None:
    """Which base model and which adapter the embedded backend will use."""
    from drain.adapters import installed_adapter, resolve_adapter, shipped_adapter
    from drain.backends.embedded import default_model_path
    from drain.errors import ModelNotFoundError

    info: dict[str, Any] = {}
    try:
        info["base"] = str(default_model_path())
    except ModelNotFoundError as err:
        info["base"] = None
        info["base_missing"] = str(err)
    adapter = resolve_adapter(None, home=cli.config.home)
    info["adapter"] = str(adapter) if adapter else None
    info["adapter_from"] = ("installed" if adapter == installed_adapter(cli.config.home) else
                            "shipped" if adapter == shipped_adapter() else None) if adapter else None
    if adapter is not None:
        info.update(_adapter_facts(adapter))
        record = adapter.parent / SOURCE_RECORD
        if record.is_file():
            info["adapter_source"] = json.loads(record.read_text(encoding="utf-8"))
        info["trained_on"] = _trained_on(adapter, info.get("adapter_source"))
    if fmt is TextOrJson.json:
        print_json(info)
        return
    typer.echo(f"base model: {info['base'] or info['base_missing']}")
    if adapter is None:
        typer.echo("adapter:    none (the base model runs as is; train one with `drain train`)")
        return
    facts = ", ".join(f"{k} {info[k]}" for k in ("rank", "alpha", "lora_pairs") if info.get(k) is not None)
    typer.echo(f"adapter:    {adapter} ({info['adapter_from']}{', ' + facts if facts else ''})")
    if "adapter_source" in info:
        typer.echo(f"trained in: {info['adapter_source'].get('peft_adapter') or info['adapter_source']['source']}")
    trained = info.get("trained_on") or {}
    if trained:
        made = trained.get("data_card", {})
        sources = ", ".join(f"{k} {v}" for k, v in sorted((made.get("by_source") or {}).items()))
        typer.echo(f"data:       {trained.get('train')} examples ({sources or 'sources not recorded'}), "
                   f"sha256 {str(trained.get('sha256'))[:12]}")
        if made.get("exports"):
            typer.echo(f"votes:      {made.get('store_examples', 0)} accepted replies from the run store "
                       f"({', '.join(made['exports'])})")
        if made.get("library_digest"):
            typer.echo(f"library:    house library {made['library_digest']}")


def _trained_on(adapter: Path, source: dict[str, Any] | None) -> dict[str, Any]:
    """The training data facts of an adapter's run card: beside the adapter, or in the folder it came from."""
    folders = [adapter.parent]
    if source:
        folders += [Path(source[key]) for key in ("peft_adapter",) if source.get(key)]
        folders.append(Path(source["source"]).parent if Path(source["source"]).is_file() else Path(source["source"]))
    for folder in folders:
        card = folder / "run_card.json"
        if card.is_file():
            return dict(json.loads(card.read_text(encoding="utf-8")).get("data", {}))
    return {}


def _installed_peft_dir(home: Path) -> Path | None:
    from drain.adapters import installed_adapter

    adapter = installed_adapter(home)
    record = adapter.parent / SOURCE_RECORD if adapter else None
    if record is None or not record.is_file():
        return None
    folder = json.loads(record.read_text(encoding="utf-8")).get("peft_adapter")
    return Path(folder) if folder else None


def vllm_command(adapter: Path, *, merged: bool = False, port: int = 8000) -> list[str]:
    """The ``vllm serve`` command for a `drain train` output folder: base + LoRA, or the merged model."""
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        raise InputError(f"{adapter} holds no PEFT adapter (adapter_config.json); give a `drain train` output folder")
    if merged:
        if not (adapter / "merged" / "config.json").is_file():
            raise InputError(f"{adapter} has no merged model (it was trained with --no-merged)")
        return ["vllm", "serve", str((adapter / "merged").resolve()), "--served-model-name", "drain",
                "--port", str(port)]
    config = json.loads(config_path.read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    card = adapter / "run_card.json"
    if card.is_file():
        base = json.loads(card.read_text(encoding="utf-8")).get("base", {}).get("hf_dir") or base
    if not base:
        raise InputError(f"{config_path} does not name its base model")
    command = ["vllm", "serve", str(base), "--enable-lora", "--lora-modules", f"drain={adapter.resolve()}",
               "--port", str(port)]
    if int(config.get("r", 16)) > 16:  # vLLM's default --max-lora-rank is 16
        command += ["--max-lora-rank", str(int(config["r"]))]
    return command


@with_options()
def serve_model(
    adapter: Path | None = typer.Option(None, "--adapter", help="A `drain train` output folder (default: the "
                                        "folder of the installed adapter)."),
    merged: bool = typer.Option(False, "--merged", help="Serve OUT/merged instead of the base + LoRA."),
    port: int = typer.Option(8000, "--port", help="Port for vLLM."),
    run: bool = typer.Option(False, "--run", help="Run the command (needs vLLM installed, and a GPU)."),
    *,
    cli: CommandLine,
) -> None:
    """Print the `vllm serve BASE --enable-lora --lora-modules drain=PATH` command (or run it with --run)."""
    folder = adapter or _installed_peft_dir(cli.config.home)
    if folder is None:
        raise InputError("give --adapter OUT (a `drain train` output folder); no installed adapter records one")
    command = vllm_command(folder, merged=merged, port=port)
    if not run:
        typer.echo(shlex.join(command))
        typer.echo(f"# then: drain solve --backend openai --base-url http://localhost:{port}/v1 --model drain \"...\"",
                   err=True)
        return
    if importlib.util.find_spec("vllm") is None:
        raise BackendUnavailableError(f"vLLM is not installed here (pip install vllm, on a GPU machine); "
                                      f"the command is: {shlex.join(command)}")
    executable = shutil.which("vllm")
    argv = [executable, *command[1:]] if executable else [sys.executable, "-m", "vllm.entrypoints.cli.main",
                                                          *command[1:]]
    raise typer.Exit(subprocess.call(argv))


def register(app: typer.Typer) -> None:
    """Add the training, model and serving commands to ``app``."""
    app.command("train")(train)
    model_app = typer.Typer(name="model", help="The DRAIN adapter the embedded model uses.", no_args_is_help=True,
                            rich_markup_mode=None)
    model_app.command("install")(model_install)
    model_app.command("export")(model_export)
    model_app.command("info")(model_info)
    model_app.command("phone")(model_phone)
    app.add_typer(model_app, name="model")
    app.command("serve-model")(serve_model)
