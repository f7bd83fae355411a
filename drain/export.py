"""Export logged model exchanges as chat-format training examples, filtered by the homeowners' feedback.

One example per accepted model step: the exact prompt the planner sent (system and user message) and
the reply that passed validation, as ``{"messages": [...], "metadata": {...}}``. A reply accepted after a
re-ask is exported with the original prompt (``keep_reasks=True`` keeps the whole correction turn).

Feedback decides what goes in. A vote on a run applies to all of its steps; a vote on an idea applies to
the ``resolve`` step that wrote it and overrides the run's vote there; the latest vote wins. Filters:
``up`` (only up-voted), ``not-down`` (everything not down-voted, unrated included), ``all``.
Identical examples are written once; ``holdout`` sends a stable fraction of the problems (all steps of a
problem together, so nothing leaks) to a held-out file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from drain.errors import InputError, StoreError
from drain.store import Store

__all__ = ["ExportReport", "FeedbackFilter", "chat_examples", "export_chat", "heldout_path", "in_holdout"]


class FeedbackFilter(StrEnum):
    up = "up"
    not_down = "not-down"
    all = "all"


@dataclass
class ExportReport:
    """What an export wrote and what it left out."""

    considered: int = 0
    written: int = 0
    heldout: int = 0
    filtered: int = 0  # left out by the feedback filter
    duplicates: int = 0
    paths: list[Path] = field(default_factory=list)


@dataclass
class _Votes:
    run: dict[str, tuple[int, str]] = field(default_factory=dict)  # run id -> (feedback id, rating)
    ideas: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)  # run id -> idea text -> vote


def _votes(store: Store) -> _Votes:
    votes = _Votes()
    idea_rows: dict[str, list[dict[str, Any]]] = {}
    for row in store.feedback():
        if row["idea"] is None:
            votes.run[row["run_id"]] = (row["id"], row["rating"])  # rows come oldest first: the latest wins
        else:
            idea_rows.setdefault(row["run_id"], []).append(row)
    for run_id, rows in idea_rows.items():
        try:
            numbered = dict(store.get_tree(run_id).numbered_ideas())
        except StoreError:
            continue
        texts = votes.ideas.setdefault(run_id, {})
        for row in rows:
            idea = numbered.get(row["idea"])
            if idea is not None:
                texts[_norm(idea.idea)] = (row["id"], row["rating"])
    return votes


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _rating(exchange: dict[str, Any], votes: _Votes) -> str | None:
    """The rating that applies to one exchange, or None when nobody rated it."""
    run_id = exchange["run_id"]
    on_ideas = votes.ideas.get(run_id)
    if on_ideas and exchange["step"] == "resolve":
        try:
            ideas = json.loads(exchange["reply"]).get("ideas") or []
        except (ValueError, AttributeError):
            ideas = []
        found = [on_ideas[key] for key in (_norm(str(i.get("idea", ""))) for i in ideas if isinstance(i, dict))
                 if key in on_ideas]
        if found:
            return max(found)[1]
    vote = votes.run.get(run_id)
    return vote[1] if vote else None


def _keep(rating: str | None, wanted: FeedbackFilter) -> bool:
    if wanted is FeedbackFilter.up:
        return rating == "up"
    if wanted is FeedbackFilter.not_down:
        return rating != "down"
    return True


def _prompt(messages: list[dict[str, str]], keep_reasks: bool) -> list[dict[str, str]]:
    if keep_reasks:
        return messages
    first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages) - 1)
    return messages[: first_user + 1]


def chat_examples(store: Store, *, feedback: FeedbackFilter = FeedbackFilter.not_down, keep_reasks: bool = False,
                  sources: Iterable[str] = (), steps: Iterable[str] = (),
                  report: ExportReport | None = None) -> Iterator[dict[str, Any]]:
    """The store's accepted exchanges as chat examples, filtered by feedback and deduplicated."""
    report = report if report is not None else ExportReport()
    votes = _votes(store)
    seen: set[str] = set()
    for exchange in store.iter_exchanges(sources=tuple(sources), steps=tuple(steps)):
        report.considered += 1
        rating = _rating(exchange, votes)
        if not _keep(rating, feedback):
            report.filtered += 1
            continue
        messages = _prompt(json.loads(exchange["messages_json"]), keep_reasks)
        messages = [*({"role": m["role"], "content": m["content"]} for m in messages),
                    {"role": "assistant", "content": exchange["reply"]}]
        key = hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        yield {
            "messages": messages,
            "metadata": {
                "run_id": exchange["run_id"], "exchange_id": exchange["id"], "step": exchange["step"],
                "attempt": exchange["attempt"], "rating": rating, "source": exchange["run_source"],
                "problem": exchange["run_problem"], "backend": exchange["backend"], "model": exchange["model"],
                "adapter": exchange["adapter"],
            },
        }


def in_holdout(problem: str, fraction: float, seed: int = 0) -> bool:
    """Whether ``problem`` belongs to the held-out share (stable: the same text always lands the same way).

    >>> in_holdout("noisy furnace", 0.0), in_holdout("noisy furnace", 1.0)
    (False, True)
    """
    digest = hashlib.sha256(f"{seed}:{_norm(problem)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def heldout_path(output: Path) -> Path:
    """``train.jsonl`` -> ``train.heldout.jsonl``."""
    return output.with_name(f"{output.stem}.heldout{output.suffix or '.jsonl'}")


class _AtomicLines:
    """Lines written to a temporary file, renamed into place on success only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.tmp")
        try:
            self.handle = self.temporary.open("w", encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror}") from None

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


def export_chat(store: Store, output: Path, *, feedback: FeedbackFilter = FeedbackFilter.not_down,
                holdout: float = 0.0, heldout_output: Path | None = None, seed: int = 0, keep_reasks: bool = False,
                sources: Iterable[str] = (), steps: Iterable[str] = ()) -> ExportReport:
    """Write chat examples to ``output`` (and the held-out share to ``heldout_output``); returns the counts."""
    if not 0.0 <= holdout < 1.0:
        raise InputError(f"--holdout must be at least 0 and below 1, not {holdout}")
    report = ExportReport()
    files = [_AtomicLines(output)]
    if holdout > 0:
        files.append(_AtomicLines(heldout_output or heldout_path(output)))
    try:
        for example in chat_examples(store, feedback=feedback, keep_reasks=keep_reasks, sources=sources, steps=steps,
                                     report=report):
            if holdout > 0 and in_holdout(example["metadata"]["problem"], holdout, seed):
                files[1].write(example)
                report.heldout += 1
            else:
                files[0].write(example)
                report.written += 1
    except BaseException:
        for file in files:
            file.abort()
        raise
    for file in files:
        file.commit()
    report.paths = [file.path for file in files]
    return report
