"""``drain kb``: read the house library (``house/``): counts, search, one record in full, quality gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from drain.commands.output import TextOrJson, console, print_json

FORMAT = typer.Option(TextOrJson.text, "--format", "-f", help="text or json.")


def _library() -> Any:
    from triz.house import load_house

    return load_house()


def stats(fmt: TextOrJson = FORMAT) -> None:
    """Counts: families, fix cards, labelled cases, hazard phrasings per category, look-alikes."""
    counts = _library().stats()
    if fmt is TextOrJson.json:
        print_json(counts)
        return
    out = console()
    for key in ("areas", "families", "fixes", "cases", "lookalikes", "fixes_per_family_min"):
        out.print(f"{key.replace('_', ' ')}: {counts[key]}")
    phrasings = counts["hazard_phrasings"]
    out.print(f"hazard phrasings: {sum(phrasings.values())} in {len(phrasings)} categories")
    for category, count in phrasings.items():
        out.print(f"  {category}: {count}")


def search(
    text: str = typer.Argument(..., help="A homeowner's words, e.g. \"water through the basement wall\"."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=200, help="How many cards."),
    fmt: TextOrJson = FORMAT,
) -> None:
    """Fix cards ranked for TEXT (word overlap and the lexicon)."""
    from drain.problem import read_problem
    from triz.house.search import search_cards

    problem = read_problem(text)
    hits = search_cards(_library(), problem.text, limit)
    if fmt is TextOrJson.json:
        print_json([{"id": h.card.id, "family": h.family, "what": h.card.what,
                     "principles": [p.id for p in h.card.principles], "cost": h.card.band, "diy": h.card.diy,
                     "score": h.score, "matched": list(h.matched)} for h in hits])
        return
    out = console()
    if not hits:
        out.print("no card shares a word with that; try other words")
        return
    for rank, hit in enumerate(hits, start=1):
        principles = ", ".join(str(p.id) for p in hit.card.principles)
        out.print(f"{rank:>2}. [bold]{hit.card.id}[/] ({hit.family}; principles {principles}; "
                  f"{hit.card.band} · {hit.card.diy}; score {hit.score})")
        out.print(f"    {hit.card.what}")


def show(ident: str = typer.Argument(..., help="A card or family id."), fmt: TextOrJson = FORMAT) -> None:
    """One card or family in full."""
    from triz.house.models import Card

    library = _library()
    record = library.record(ident)
    if fmt is TextOrJson.json:
        data = record.model_dump(mode="json")
        if isinstance(record, Card):
            data["band"] = record.band
        else:
            data["cards"] = [c.id for c in library.cards_of(record.id)]
        print_json(data)
        return
    out = console()
    if isinstance(record, Card):
        _print_card(out, library, record)
    else:
        _print_family(out, library, record)


def _print_card(out: Any, library: Any, card: Any) -> None:
    names = library.knowledge.principle_names
    out.print(f"[bold]{card.id}[/]: {card.what}")
    out.print(f"families: {', '.join(card.families)}")
    low, high = card.cost_usd
    yes = {True: "yes", False: "no"}
    out.print(f"cost: {card.band} (${low:,}-${high:,}) · time: {card.time} · DIY: {card.diy} · permit: {card.permit}"
              f" · renter-friendly: {yes[card.renter_ok]} · reversible: {yes[card.reversible]}")
    for number, step in enumerate(card.steps, start=1):
        out.print(f"  {number}. {step}")
    if card.materials:
        out.print(f"materials: {'; '.join(card.materials)}")
    if card.tools:
        out.print(f"tools: {'; '.join(card.tools)}")
    out.print(f"call a pro: {card.call_pro}")
    if card.hazards:
        out.print(f"[red]hazards:[/] {', '.join(card.hazards)}")
    for p in card.principles:
        out.print(f"principle {p.id} {names[p.id].name}: {p.how}")
    out.print(f"resolves: {', '.join(f'{i}x{w}' for i, w in card.resolves)}")
    for f in card.creates:
        out.print(f"creates: {f.problem} ({f.improving}x{f.worsening}) -> {', '.join(f.cards)}")


def _print_family(out: Any, library: Any, family: Any) -> None:
    names = library.knowledge.parameter_names
    out.print(f"[bold]{family.id}[/]: {family.name} (area {family.area})")
    out.print("homeowners say:")
    for said in family.says:
        out.print(f"  - {said}")
    out.print("likely causes, and the quick check:")
    for cause in family.causes:
        out.print(f"  - {cause.cause}\n    check: {cause.check}")
    for c in family.contradictions:
        up, down = names[c.improving].name, names[c.worsening].name
        out.print(f"improve {c.improving} {up} vs {c.worsening} {down}: {c.why}")
    for p in family.physical:
        out.print(f"physical: {p.property} must be high ({p.high}) and low ({p.low}); "
                  f"separate in {p.separation}: {p.how}")
    if family.hazards:
        out.print(f"[red]can involve:[/] {', '.join(family.hazards)}")
    out.print(f"cards: {', '.join(c.id for c in library.cards_of(family.id))}")


def check(
    folder: Path | None = typer.Option(None, "--folder", help="A library folder (default: the shipped house/)."),
    strict: bool = typer.Option(False, "--strict", help="Also fail on the quality gates (counts, duplicates...)."),
) -> None:
    """Check the library: every schema or reference problem with its file and line, then the quality gates."""
    import triz
    from drain.evaluate.cases import protected_problems
    from triz.house import HouseLibrary
    from triz.house.checks import quality_report
    from triz.house.loader import read_library
    from triz.resources import find_data_dir

    path = folder or find_data_dir("house")
    knowledge = triz.load()
    reader = read_library(path, knowledge, collect=True)
    out = console()
    for error in reader.errors or ():
        out.print(f"error: {error}")
    if reader.errors:
        out.print(f"{len(reader.errors)} error(s): the library does not load")
        raise typer.Exit(3)
    report = quality_report(HouseLibrary(path, knowledge), protected=protected_problems())
    for problem in report.problems:
        out.print(f"gate: {problem}")
    counts = report.counts
    out.print(f"ok: {counts['families']} families, {counts['fixes']} cards, {counts['cases']} cases, "
              f"{sum(counts['hazard_phrasings'].values())} hazard phrasings, {counts['lookalikes']} look-alikes; "
              f"{len(report.problems)} gate shortfall(s)")
    if strict and report.problems:
        raise typer.Exit(1)


def index(refit: bool = typer.Option(False, "--refit", help="Refit the hazard probe even when the shipped one was "
                                                                "fitted on the same data and rules.")) -> None:
    """Write house/vectors.npz (the sentence vectors of every text of the library) and house/hazard_probe.npz
    (the hazard probe fitted on them), after editing the library. The probe (minutes to fit) is kept when its
    digest says it was fitted on the same phrasings, look-alikes, labelled cases (its calm class) and rules:
    editing families and cards alone skips it."""
    from drain.embed import default_embedder
    from drain.grounding.hazards import PROBE_FILE, probe_inputs, read_tuning, tune, write_tuning
    from drain.grounding.index import library_index, library_rows
    from drain.grounding.vectors import TextVectors, key_of, shipped_path, write_vectors

    library = _library()
    vectors = TextVectors(default_embedder())
    texts = list(dict.fromkeys(text for rows in library_rows(library).values() for _, text in rows))
    matrix = vectors.get(texts)
    path = write_vectors(shipped_path(), vectors.model, dict(zip(map(key_of, texts), matrix, strict=True)))
    console().print(f"wrote {path}: {len(texts)} texts ({vectors.embedded} embedded now), model {vectors.model}")
    # the probe is fitted on the vectors as written (float16), as every later load reads them
    written = library_index(library, vectors.embedder, TextVectors(vectors.embedder))
    kept = None if refit else read_tuning(library.folder / PROBE_FILE, probe_inputs(library, written).digest)
    if kept is not None:
        console().print(f"kept {library.folder / PROBE_FILE}: fitted on the same data and rules "
                        "(--refit to fit it again)")
        return
    tuning = tune(library, written)
    probe = write_tuning(library.folder / PROBE_FILE, tuning)
    bars = sorted(set(tuning.thresholds.values()))
    console().print(f"wrote {probe}: thresholds {bars} (a clause read alone: +{tuning.clause_margin}), "
                    "cross-validated on the tune split: recall "
                    f"with the rules {sum(tuning.tune_recall.values()) / max(1, len(tuning.tune_recall)):.3f} "
                    f"(mean over categories), look-alikes flagged beyond the rules {tuning.tune_false_alarms:.3f}")


def register(app: typer.Typer) -> None:
    """Add ``drain kb`` and its commands to ``app``."""
    kb_app = typer.Typer(name="kb", help="The house library: families, fix cards, hazard phrasings, cases.",
                         no_args_is_help=True, rich_markup_mode=None)
    kb_app.command("stats")(stats)
    kb_app.command("search")(search)
    kb_app.command("show")(show)
    kb_app.command("check")(check)
    kb_app.command("index")(index)
    app.add_typer(kb_app, name="kb")
