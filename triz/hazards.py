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
from triz.text import PhraseIndex

__all__ = ["HazardChecker", "HazardMatch"]


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

    def __init__(self, rules: Iterable[HazardRule]) -> None:
        self.rules = {rule.category: rule for rule in rules}
        self._index = PhraseIndex((rule.category, t) for rule in self.rules.values() for t in rule.triggers)
        self._with_actions = PhraseIndex(
            (rule.category, t) for rule in self.rules.values() for t in (*rule.triggers, *rule.actions)
        )
        self._actions = PhraseIndex((rule.category, t) for rule in self.rules.values() for t in rule.actions)

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
        ("rewire the panel"), not for problem descriptions.
        """
        return self._matches((self._with_actions if actions else self._index).find(text))

    def _matches(self, found: dict[str, list[str]]) -> list[HazardMatch]:
        order = list(self.rules)
        matches = [
            HazardMatch(category=name, severity=rule.severity, message=rule.message, do_now=rule.do_now,
                        professional=rule.professional, matched=tuple(found[name]))
            for name, rule in self.rules.items() if name in found
        ]
        matches.sort(key=lambda m: (m.severity != "stop", order.index(m.category)))
        return matches
