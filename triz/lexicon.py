"""From a homeowner's words to ranked TRIZ parameters.

>>> import triz
>>> [c.id for c in triz.load().lexicon.candidates("my basement leaks", k=3)][:1]
[30]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from triz.models import Constraint, Parameter
from triz.text import PhraseIndex, stem, stems, words

# Words too common to say anything about a parameter on their own (they still count inside phrases). Not
# triz.text.FILLER (the words every text measure drops): this list also holds words that mean something in
# a house problem ("fix", "room", "need") but point to no parameter by themselves, and it keeps "if" as a
# word (FILLER drops it), which a lexicon phrase of parameter 37 relies on: the union of the two lists
# changed the lexicon baseline's pairs on 1 of the 120 bench/homeowner cases.
_FUNCTION_WORDS = frozenset(stems(
    "a an and are as at be been but by can cant do does dont for from get gets got has have how i im in into "
    "is it keep keeps make me more need no not of on or out over so than thing to too up us use want we what "
    "when where which while who why will with without wont would you house home room fix problem issue"
))
_WORD_WEIGHT = 0.35

__all__ = ["Candidate", "ConstraintMatch", "Lexicon"]


class Candidate(BaseModel):
    """A parameter the text may be about, with its score and the phrases that matched."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    score: float
    matched: tuple[str, ...]


class ConstraintMatch(BaseModel):
    """A constraint found in the text (budget, renting...) and the phrases that showed it."""

    model_config = ConfigDict(frozen=True)

    name: str
    parameters: tuple[int, ...]
    matched: tuple[str, ...]


def _outermost(phrases: list[str]) -> list[str]:
    """Drop phrases whose words all lie inside a longer matched phrase ("heating bill" in "high heating bill")."""
    sets = [(p, set(stems(p))) for p in phrases]
    return [p for p, words in sets if not any(words < other for _, other in sets)]


class Lexicon:
    """Phrase index over the parameters' lexicons, names and alternative names, plus constraints."""

    def __init__(self, parameters: Mapping[int, Parameter], constraints: Iterable[Constraint] = ()) -> None:
        self._parameters = dict(parameters)
        self._constraints = {c.name: c for c in constraints}
        entries: list[tuple[int, str]] = []
        for parameter in self._parameters.values():
            entries.extend((parameter.id, phrase) for phrase in (*parameter.names, *parameter.lexicon))
        for constraint in self._constraints.values():
            entries.extend((pid, phrase) for phrase in constraint.phrases for pid in constraint.parameters[:1])
        self._index = PhraseIndex(entries)
        self._word_keys: dict[str, set[int]] = {}
        for pid, phrase in entries:
            for word in stems(phrase):
                if word not in _FUNCTION_WORDS and not word.isdigit():
                    self._word_keys.setdefault(word, set()).add(pid)
        self._constraint_index = PhraseIndex(
            (c.name, phrase) for c in self._constraints.values() for phrase in c.phrases
        )

    def _weight(self, phrase: str) -> float:
        length = len(stems(phrase))
        return (1.0 + 0.5 * (length - 1)) / max(1, self._index.keys_sharing(phrase))

    def candidates(self, text: str, k: int = 5) -> list[Candidate]:
        """The ``k`` parameters whose phrases best match ``text``, best first (ties by id).

        >>> import triz
        >>> lex = triz.load().lexicon
        >>> top = lex.candidates("DRAFTY windows!!", k=3)
        >>> 22 in [c.id for c in top]
        True
        >>> lex.candidates("", k=3)
        []
        """
        spoken = {stem(word): word for word in reversed(words(text))}  # stem -> the word as written
        text_stems = stems(text)
        found = {pid: _outermost(phrases) for pid, phrases in self._index.find_stems(text_stems).items()}
        scores = {pid: sum(self._weight(p) for p in phrases) for pid, phrases in found.items()}
        matched = {pid: list(phrases) for pid, phrases in found.items()}
        covered = {pid: {w for p in phrases for w in stems(p)} for pid, phrases in found.items()}
        for word in dict.fromkeys(text_stems):  # single words: weak evidence, shared words weaker still
            for pid in self._word_keys.get(word, ()):
                if word in covered.get(pid, ()):
                    continue
                scores[pid] = scores.get(pid, 0.0) + _WORD_WEIGHT / len(self._word_keys[word])
                matched.setdefault(pid, []).append(spoken.get(word, word))
        ranked = [
            Candidate(id=pid, name=self._parameters[pid].name, score=round(score, 3), matched=tuple(matched[pid]))
            for pid, score in scores.items()
        ]
        ranked.sort(key=lambda c: (-c.score, c.id))
        return ranked[:k]

    def constraints(self, text: str) -> list[ConstraintMatch]:
        """Constraints named in ``text``, in the order of ``constraints.toml``.

        >>> import triz
        >>> [c.name for c in triz.load().lexicon.constraints("cheap fix, I rent")]
        ['budget', 'renting']
        """
        found = self._constraint_index.find(text)
        return [
            ConstraintMatch(name=name, parameters=c.parameters, matched=tuple(found[name]))
            for name, c in self._constraints.items() if name in found
        ]
