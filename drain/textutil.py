"""Small text measures shared by the planner's checks and the evaluation.

>>> sorted(content_words("The sump pump needs power in a storm"))
['need', 'power', 'pump', 'storm', 'sump']
"""

from __future__ import annotations

from triz.text import content_stems

__all__ = ["content_words", "overlap"]


def content_words(text: str) -> set[str]:
    """Stems of the words in ``text`` that carry meaning (:func:`triz.text.content_stems`)."""
    return content_stems(text)


def overlap(part: str, whole: str) -> float:
    """Share of ``part``'s content words that also occur in ``whole`` (0 when ``part`` has none)."""
    words = content_words(part)
    return len(words & content_words(whole)) / len(words) if words else 0.0
