"""``drain dataset build``: chat-format training data for every planner step."""

from __future__ import annotations

from pathlib import Path

import typer

dataset_app = typer.Typer(help="Training data for the DRAIN model.", no_args_is_help=True)


def _checkout() -> Path:
    return Path(__file__).resolve().parent.parent.parent


@dataset_app.command("build")
def build(
    out: Path = typer.Option(..., "--output", "-o", help="Folder for train.jsonl, valid.jsonl and the data card."),
    gold: list[Path] = typer.Option([], "--gold", help="Gold annotation files (default: training/gold_*.jsonl)."),
    benchmark: Path | None = typer.Option(None, "--benchmark",
                                          help="Benchmark whose dev/test problems must not leak in "
                                               "(default: bench/homeowner/cases.jsonl)."),
    export: list[Path] = typer.Option([], "--export", help="Chat files from `drain export` to add."),
    variants: int = typer.Option(2, "--variants", min=0, max=4, help="Re-phrasings per problem."),
    library: bool = typer.Option(True, "--library/--no-library", help="Add the house library's labelled cases."),
    max_cases: int | None = typer.Option(None, "--max-cases", min=1, help="Only this many library cases."),
    valid_share: float = typer.Option(0.08, "--valid-share", min=0.0, max=0.5, help="Records held out for loss."),
    seed: int = typer.Option(0, "--seed"),
    weight: list[str] = typer.Option([], "--weight", metavar="NAME=N",
                                     help="Repeat a step's or a source's training examples N times "
                                          "(e.g. contradict=2, benchmark-train=3)."),
) -> None:
    """Build chat examples from the house library's cases, the gold annotations, re-phrasings and store exports."""
    import triz
    from drain.commands.output import console
    from drain.errors import InputError
    from drain.training.dataset import build_dataset, parse_weights

    root = _checkout()
    gold_files = gold or sorted((root / "training").glob("gold_*.jsonl"))
    if not gold_files:
        raise InputError("no gold files: pass --gold FILE (the checkout's training/gold_*.jsonl are the default)")
    bench = benchmark or root / "bench" / "homeowner" / "cases.jsonl"
    result = build_dataset(out, gold_files=gold_files, knowledge=triz.load(),
                           benchmark=bench if bench.is_file() else None, exports=export, variants=variants,
                           library_cases=library, max_cases=max_cases, valid_share=valid_share, seed=seed,
                           weights=parse_weights(weight))
    console().print(f"wrote {result.train} training and {result.valid} validation examples to {out} "
                    f"(data card: {out / 'data_card.md'})")


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
