"""Hazard rules as code: a match can only be added to a result, never cleared by a model.

>>> import triz
>>> [h.category for h in triz.load().hazards.check("I smell gas near the stove")]
['gas']
>>> triz.load().hazards.check("noisy furnace")
[]
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from triz.models import HazardRule
from triz.settled import SettledReading, sentences
from triz.text import PhraseIndex, occurs_from, stems

__all__ = ["TOGETHER_WINDOW", "HazardChecker", "HazardMatch"]

TOGETHER_WINDOW = 10  # words: how close the phrases of a rule's ``together`` groups must be


class HazardMatch(BaseModel):
    """A hazard found in a text: the rule's category, severity, message and what to do now."""

    model_config = ConfigDict(frozen=True)

    category: str
    severity: str
    message: str
    do_now: tuple[str, ...]
    professional: str
    matched: tuple[str, ...]


class HazardChecker:
    """Match texts against the hazard rules; "stop" hazards come before "caution" ones."""

    def __init__(self, rules: Iterable[HazardRule], settled: SettledReading | None = None) -> None:
        self.rules = {rule.category: rule for rule in rules}
        self.settled = settled
        self._index = PhraseIndex((rule.category, t) for rule in self.rules.values() for t in rule.triggers)
        self._with_actions = PhraseIndex(
            (rule.category, t) for rule in self.rules.values() for t in (*rule.triggers, *rule.actions)
        )
        self._actions = PhraseIndex((rule.category, t) for rule in self.rules.values() for t in rule.actions)
        self._groups = PhraseIndex(((rule.category, e, g), t) for rule in self.rules.values()
                                   for e, entry in enumerate(rule.together)
                                   for g, group in enumerate(entry) for t in group)

    def check_work(self, text: str) -> list[HazardMatch]:
        """The hazards whose *work* phrases occur in ``text`` ("rewire the panel", "jack up the beam"):
        for a fix, which names work to do, not a situation (a card that says to look for mud tubes is not
        itself structural work).

        >>> import triz
        >>> [h.category for h in triz.load().hazards.check_work("rewire the kitchen outlets")]
        ['electrical']
        >>> triz.load().hazards.check_work("look along the sill for mud tubes")
        []
        """
        return self._matches(self._actions.find(text))

    def check(self, text: str, *, actions: bool = False) -> list[HazardMatch]:
        """Every hazard whose triggers occur in ``text``; stop first, then in file order.

        With ``actions=True`` the rules' work phrases count too: use it for proposed fixes
        ("rewire the panel"), not for problem descriptions. A match the text tells of as dealt with is left
        out (:mod:`triz.settled`; :meth:`set_aside` lists those).

        >>> import triz
        >>> triz.load().hazards.check("we smelled gas last year, the utility fixed the meter, fine since")
        []
        """
        return self._matches(self._found(text, actions, aside=False))

    def set_aside(self, text: str) -> list[HazardMatch]:
        """The matches of ``text`` that :meth:`check` leaves out because the text says they were dealt with.

        >>> import triz
        >>> [h.category for h in triz.load().hazards.set_aside("the pipe wrap was removed by an abatement crew")]
        ['asbestos']
        """
        return self._matches(self._found(text, False, aside=True))

    def _found(self, text: str, actions: bool, *, aside: bool) -> dict[str, list[str]]:
        found = self._raw(text, actions)
        reading = self.settled
        calm = [c for c in found if reading is not None and not actions and reading.calm(text, c)]
        if reading is None or not calm:
            return {} if aside else found
        pieces = sentences(text) or [text]
        raised = [set(self._raw(piece, False)) for piece in pieces]  # what each sentence raises on its own
        settled = {c for c in calm if reading.sets_aside(text, c, pieces, lambda n, c=c: c in raised[n])}
        return {c: m for c, m in found.items() if (c in settled) == aside}

    def _raw(self, text: str, actions: bool) -> dict[str, list[str]]:
        found = (self._with_actions if actions else self._index).find(text)
        for category, seen in self._together(text).items():
            found.setdefault(category, []).extend(seen)
        return found

    def _together(self, text: str) -> dict[str, list[str]]:
        """The categories whose ``together`` groups all occur within :data:`TOGETHER_WINDOW` words.

        >>> import triz
        >>> triz.load().hazards._together("rain dripped into our main electrical panel")
        {'electrical': ['rain + main panel']}
        """
        words = stems(text)
        at = self._groups.positions(words)
        found: dict[str, list[str]] = {}
        for rule in self.rules.values():
            for e, entry in enumerate(rule.together):
                spots = [at.get((rule.category, e, g), []) for g in range(len(entry))]
                if all(spots) and _close(spots):
                    hit = " + ".join(_phrase_at(group, words, s[0]) for group, s in zip(entry, spots, strict=True))
                    found.setdefault(rule.category, []).append(hit)
        return found

    def _matches(self, found: dict[str, list[str]]) -> list[HazardMatch]:
        order = list(self.rules)
        matches = [
            HazardMatch(category=name, severity=rule.severity, message=rule.message, do_now=rule.do_now,
                        professional=rule.professional, matched=tuple(found[name]))
            for name, rule in self.rules.items() if name in found
        ]
        matches.sort(key=lambda m: (m.severity != "stop", order.index(m.category)))
        return matches


def _close(spots: list[list[int]]) -> bool:
    """Whether one position from each list lies within :data:`TOGETHER_WINDOW` words of the others."""
    return any(all(any(abs(p - first) <= TOGETHER_WINDOW for p in others) for others in spots[1:])
               for first in spots[0])


def _phrase_at(group: tuple[str, ...], words: tuple[str, ...], start: int) -> str:
    """The group's phrase that occurs from ``start`` (for the match's explanation)."""
    return next((t for t in group if stems(t) and stems(t)[0] == words[start]
                 and occurs_from(words, start, stems(t), 2)), group[0])
