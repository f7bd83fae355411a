"""A danger already dealt with: the reading that sets a hazard match aside (``matrix/settled.toml``).

"We smelled gas last winter, the utility fixed a loose fitting at the meter and it has been fine since" names
a danger, but the danger is over; "the popcorn ceiling tested negative for asbestos, how do I scrape it" rules
it out. Phrase rules cannot tell these from the live danger, and they were most of the rules' false alarms on
the library's look-alikes. A match of category ``c`` is set aside when all of these hold:

1. the message has a *done* pattern (a professional dealt with it, a test ruled it out, fine since) that is
   not negated ("it hasn't been swept in years"), a *pending* one, or a ``category_done`` pattern of the
   category (a house built in 1990 or later, for asbestos and lead; a low radon result);
2. it has no *live* pattern (still, again, keeps, getting worse, now it ...);
3. every piece of the message (a sentence, or a clause for the similar-situation check) that raises ``c``
   on its own is covered: it has a done pattern itself, or a piece next to it does and shares a content
   word with it, is short ("Not a drop since.") or names who dealt with it (a ``covers`` pattern: "The
   engineer confirmed it is not load bearing."). A ``category_done`` match speaks for the whole message
   ("we have no gas service at all in the building"), so it covers every piece. A *pending* pattern
   ("the electrician is running the new circuit next week") settles its own piece only and covers none.

Point 3 keeps "The asbestos test came back negative. The outlet in the bathroom sparks." an electrical
alarm. Tense matters, so these are regular expressions on the lower-cased text, not stemmed phrases.

>>> import triz
>>> reading = triz.load().hazards.settled
>>> reading.done("the plumber replaced the relief valve last year")
True
>>> reading.done("can the plumber replace the relief valve")
False
>>> reading.live("the plumber replaced it and now it drips again")
True
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triz.errors import DataFileError
from triz.text import content_stems

__all__ = ["SettledReading", "expand", "load_settled", "normalise", "read_settled", "sentences"]

_SENTENCE = re.compile(r"[.!?;]+(?:\s|$)|\n")


def normalise(text: str) -> str:
    """What the patterns read: lower-case ASCII, apostrophes removed (as :func:`triz.text.words` reads).

    >>> normalise("It\u2019s been FINE since")
    'its been fine since'
    """
    text = text.replace("'", "").replace("\u2019", "")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (cut at . ! ? ; before a space, and at line breaks), blanks dropped.

    >>> sentences("Radon came back 0.8 pCi/L. Is that low?")
    ['Radon came back 0.8 pCi/L', 'Is that low']
    """
    return [piece.strip() for piece in _SENTENCE.split(text) if piece.strip()]


@dataclass(frozen=True)
class SettledReading:
    """The compiled patterns of ``settled.toml`` (see the module docstring)."""

    done_patterns: tuple[re.Pattern[str], ...]
    live_patterns: tuple[re.Pattern[str], ...]
    negation: re.Pattern[str]
    category_done: tuple[tuple[frozenset[str], re.Pattern[str]], ...]
    short_sentence: int
    covers: tuple[re.Pattern[str], ...] = ()
    pending: tuple[re.Pattern[str], ...] = ()

    def done(self, text: str, category: str | None = None) -> bool:
        """Whether ``text`` says a danger was dealt with or ruled out (a done pattern, not negated)."""
        plain = normalise(text)
        return self._category_done(plain, category) or self._unnegated(self.done_patterns, plain)

    def left_to_pro(self, text: str) -> bool:
        """Whether ``text`` leaves the risky work it names to a professional ("the electrician is running the new
        circuit next week"): a *pending* pattern, not negated. It speaks for its own piece only, never for a
        neighbour ("The electrician is coming Friday. The outlet is smoking." stays an alarm)."""
        return self._unnegated(self.pending, normalise(text))

    def _category_done(self, plain: str, category: str | None) -> bool:
        return any(category in categories and pattern.search(plain) for categories, pattern in self.category_done)

    def _unnegated(self, patterns: Sequence[re.Pattern[str]], plain: str) -> bool:
        return any(not self.negation.search(plain[: m.start()].rstrip())
                   for pattern in patterns for m in pattern.finditer(plain))

    def live(self, text: str) -> bool:
        """Whether ``text`` says the danger is back, still there or growing."""
        plain = normalise(text)
        return any(pattern.search(plain) for pattern in self.live_patterns)

    def calm(self, text: str, category: str | None = None) -> bool:
        """Points 1 and 2: done (or left to a professional) and not live (the cheap test, before any piece)."""
        return (self.done(text, category) or self.left_to_pro(text)) and not self.live(text)

    def sets_aside(self, text: str, category: str, pieces: Sequence[str], raises: Callable[[int], bool]) -> bool:
        """Whether a match of ``category`` in ``text`` is set aside; ``raises(n)``: whether ``pieces[n]``
        raises it on its own (a message of one piece passes ``[text]``)."""
        if not self.calm(text, category):
            return False
        if self._category_done(normalise(text), category):
            return True
        done = [self.done(piece, category) for piece in pieces]
        for n, piece in enumerate(pieces):
            if done[n] or not raises(n) or self.left_to_pro(piece):
                continue
            beside = [pieces[m] for m in (n - 1, n + 1) if 0 <= m < len(pieces) and done[m]]
            if not any(self._covers(b, content_stems(piece)) for b in beside):
                return False
        return True

    def _covers(self, done_piece: str, words: set[str] | frozenset[str]) -> bool:
        theirs = content_stems(done_piece)
        if len(theirs) <= self.short_sentence or theirs & words:
            return True
        plain = normalise(done_piece)
        return any(pattern.search(plain) for pattern in self.covers)


def _patterns(path: Path, values: Any, words: dict[str, str], key: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise DataFileError(path, None, f"settled.{key}: a list of regular expressions is required")
    return tuple(_compile(path, v, words, key) for v in values)


def _compile(path: Path, value: Any, words: dict[str, str], key: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise DataFileError(path, None, f"settled.{key}: a regular expression is required")
    try:
        return re.compile(expand(value, words))
    except (re.error, KeyError) as err:
        raise DataFileError(path, None, f"settled.{key}: {value!r} is not a valid pattern ({err})") from None


def expand(pattern: str, words: dict[str, str]) -> str:
    """``pattern`` with each ``{name}`` replaced by the word list of that name (``[words]``).

    >>> expand(r"\\b({pro}) said", {"pro": "plumber|sweep"})
    '\\\\b(plumber|sweep) said'
    """
    return re.sub(r"\{([a-z_]+)\}", lambda m: words[m.group(1)], pattern)


def read_settled(path: Path) -> dict[str, Any]:
    """The raw tables of ``settled.toml`` (``words`` and ``settled``), for the loader and the phone's export."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(path, None, "file not found") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DataFileError(path, None, f"not readable TOML ({err})") from None
    if set(data) != {"words", "settled"} or not all(isinstance(data[t], dict) for t in data):
        raise DataFileError(path, None, "expected exactly the tables [words] and [settled]")
    words = data["words"]
    if not all(isinstance(v, str) and v for v in words.values()):
        raise DataFileError(path, None, "words: each entry is a non-empty string of words separated by |")
    return data


def load_settled(folder: Path) -> SettledReading:
    """Read ``folder/settled.toml``; raises :class:`DataFileError` naming the bad entry."""
    path = folder / "settled.toml"
    data = read_settled(path)
    words, table = data["words"], data["settled"]
    short = table.get("short_sentence", 4)
    if not isinstance(short, int):
        raise DataFileError(path, None, "settled.short_sentence: a whole number is required")
    return SettledReading(
        done_patterns=_patterns(path, table.get("done"), words, "done"),
        live_patterns=_patterns(path, table.get("live"), words, "live"),
        negation=_compile(path, table.get("negation"), words, "negation"),
        category_done=tuple(_category_done(path, entry, words) for entry in table.get("category_done", [])),
        short_sentence=short,
        covers=_patterns(path, table.get("covers", []), words, "covers"),
        pending=_patterns(path, table.get("pending", []), words, "pending"),
    )


def _category_done(path: Path, entry: Any, words: dict[str, str]) -> tuple[frozenset[str], re.Pattern[str]]:
    categories = entry.get("categories") if isinstance(entry, dict) else None
    if not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories):
        raise DataFileError(path, None, "settled.category_done: each entry needs a list of categories")
    return frozenset(categories), _compile(path, entry.get("pattern"), words, "category_done")
