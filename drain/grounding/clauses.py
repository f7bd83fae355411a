"""The sentences and clauses of a homeowner's message, each read on its own by the hazard check.

A danger told as one clause of a longer message ("we're redoing the bathroom, and the grey box in the
garage buzzes and smells hot, anyway which tile is best?") is drowned in the rest when the message is read
as a whole: on the old held-out phrasings, each joined to an ordinary problem from the library's cases,
the probe found 40% of the dangers reading the whole text and 75% reading each clause as well
(bench/RESULTS.md section 15). A message is cut at sentence ends, semicolons, colons, line breaks and dashes,
and before "but", "anyway", "also", "plus" and ", and"; pieces of fewer than :data:`MIN_WORDS` words are
dropped, and a text that gives fewer than two pieces has no clauses (the whole text says it all). The
phone cuts the same way (``engine/clauses.js``).

>>> clauses("We're redoing the bathroom, and the breaker box buzzes and smells hot. Anyway which tile is best?")
["We're redoing the bathroom", 'the breaker box buzzes and smells hot', 'which tile is best']
>>> clauses("the gas meter hisses")
[]
"""

from __future__ import annotations

import re

__all__ = ["MIN_WORDS", "clauses"]

MIN_WORDS = 3
MOST = 8  # a long message is read in at most this many pieces (the first ones)
_CUT = re.compile(r"(?:[.!?;:]+(?=\s|$)|\n|\s[-\u2013\u2014]+\s|,\s*(?=and\s)|\s(?=(?:but|anyway|also|plus)\s))",
                  re.IGNORECASE)
_LEAD = re.compile(r"^(?:and|but|anyway|also|plus)(?=[\s,]|$)[\s,]*", re.IGNORECASE)


def clauses(text: str) -> list[str]:
    """The pieces of ``text`` worth reading on their own, in order (empty when it is one piece)."""
    pieces = []
    for raw in _CUT.split(text):
        piece = _LEAD.sub("", raw.strip(" \t,")).strip(" \t,")
        if len(piece.split()) >= MIN_WORDS:
            pieces.append(piece)
    return pieces[:MOST] if len(pieces) >= 2 else []
