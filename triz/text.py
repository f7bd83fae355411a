"""Tolerant phrase matching: case, plurals, common endings and punctuation do not matter.

Both the lexicon's phrases and the homeowner's text go through :func:`stems`, so a phrase matches
whenever its stems occur side by side in the text.

>>> stems("My basement LEAKS when it rains!")
('basement', 'leak', 'when', 'it', 'rain')
>>> stems("leaking") == stems("leaky") == stems("leak")
True
>>> index = PhraseIndex([(30, "water in basement"), (32, "cheap")])
>>> index.find("Water in the basement, need a cheap fix")
{30: ['water in basement'], 32: ['cheap']}
>>> index.find("water coming in through the basement")  # up to two other words between
{30: ['water in basement']}
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable
from functools import lru_cache
from typing import Generic, TypeVar

__all__ = ["FILLER", "PhraseIndex", "content_stems", "stem", "stems", "words"]

Key = TypeVar("Key", bound=Hashable)

_WORD = re.compile(r"[a-z0-9]+")
# Three word lists, each for its own use: _SKIP (articles and possessives, dropped before any matching, so
# "water in the basement" matches "water in basement"), FILLER below (what text measures such as
# content_stems leave out) and the lexicon's own list (triz/lexicon.py: words that point to no parameter).
_SKIP = frozenset(
    "a an the my our your his her their its this that these those very really so just some".split()
)
_SPELLING = {"mould": "mold", "colour": "color", "storey": "story", "storeys": "stories",
             "draught": "draft", "draughty": "drafty", "aluminium": "aluminum", "odour": "odor",
             "gray": "grey", "centre": "center", "metre": "meter", "litre": "liter",
             "cheaply": "cheap", "mice": "mouse", "afford": "affordable", "affordably": "affordable"}


_KEEP = frozenset("musty stuffy dingy tiny heavy ready steady empty many only every early city party body copy "
                  "this has was is as gas yes bus less".split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Strip common English endings so that forms of one word meet.

    >>> [stem(w) for w in ["leaks", "leaking", "leaked", "leaky", "dripping", "noisy", "noise", "batteries"]]
    ['leak', 'leak', 'leak', 'leak', 'drip', 'nois', 'nois', 'batter']
    """
    word = _SPELLING.get(word, word)
    if len(word) <= 3 or word in _KEEP:
        return word
    for suffix, replacement, minimum in (("ies", "y", 5), ("ied", "y", 5), ("ing", "", 6),
                                         ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if word.endswith(suffix) and len(word) >= minimum and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + replacement
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > 4 and word.endswith("y"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case ASCII words of ``text``, apostrophes dropped, filler words skipped."""
    text = text.replace("'", "").replace("\u2019", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return [word for word in _WORD.findall(text) if word not in _SKIP]


def stems(text: str) -> tuple[str, ...]:
    """:func:`words` of ``text`` reduced to stems."""
    return tuple(stem(word) for word in words(text))


FILLER = frozenset(stems("a an and are as at be by for from in into is it of on or so that the this to was with "
                         "your you we i my can do not no if when then than"))


def content_stems(text: str) -> set[str]:
    """Stems of the words in ``text`` that carry meaning (filler words dropped).

    >>> sorted(content_stems("The sump pump needs power in a storm"))
    ['need', 'power', 'pump', 'storm', 'sump']
    """
    return {word for word in stems(text) if word not in FILLER}


class PhraseIndex(Generic[Key]):
    """Find which keys' phrases occur in a text; each phrase is stored with the key it stands for."""

    def __init__(self, entries: Iterable[tuple[Key, str]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], Key, str]]] = defaultdict(list)
        self._keys_of: dict[tuple[str, ...], set[Key]] = defaultdict(set)
        for key, phrase in entries:
            phrase_stems = stems(phrase)
            if not phrase_stems or key in self._keys_of[phrase_stems]:
                continue
            self._keys_of[phrase_stems].add(key)
            self._by_first[phrase_stems[0]].append((phrase_stems, key, phrase))

    def keys_sharing(self, phrase: str) -> int:
        """How many keys list this phrase (after stemming); shared phrases say less about each key."""
        return len(self._keys_of.get(stems(phrase), ()))

    def find(self, text: str, gap: int = 2) -> dict[Key, list[str]]:
        """Map each key whose phrases occur in ``text`` to those phrases, in order of appearance.

        A phrase's words must come in order, with at most ``gap`` other words between two of them.
        """
        return self.find_stems(stems(text), gap)

    def find_stems(self, words: tuple[str, ...], gap: int = 2) -> dict[Key, list[str]]:
        """:meth:`find` for text already reduced with :func:`stems`."""
        found: dict[Key, list[str]] = {}
        for start, word in enumerate(words):
            for phrase_stems, key, phrase in self._by_first.get(word, ()):
                if occurs_from(words, start, phrase_stems, gap):
                    matched = found.setdefault(key, [])
                    if phrase not in matched:
                        matched.append(phrase)
        return found


    def positions(self, words: tuple[str, ...], gap: int = 2) -> dict[Key, list[int]]:
        """Where each key's phrases start in ``words`` (stems), in order."""
        found: dict[Key, list[int]] = defaultdict(list)
        for start, word in enumerate(words):
            for phrase_stems, key, _ in self._by_first.get(word, ()):
                if occurs_from(words, start, phrase_stems, gap) and start not in found[key]:
                    found[key].append(start)
        return dict(found)


def occurs_from(words: tuple[str, ...], start: int, phrase: tuple[str, ...], gap: int) -> bool:
    """Whether ``phrase`` (stems) occurs in ``words`` from ``start``, at most ``gap`` words between two."""
    position = start
    for wanted in phrase[1:]:
        window = words[position + 1 : position + 2 + gap]
        if wanted not in window:
            return False
        position += 1 + window.index(wanted)
    return True
