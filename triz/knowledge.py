"""All TRIZ knowledge in one immutable object, loaded and validated from ``matrix/``.

>>> import triz
>>> knowledge = triz.load()
>>> knowledge.parameter("strength").id
14
>>> knowledge.lookup("strength", "weight of moving object").principles
(1, 8, 40, 15)
"""

from __future__ import annotations

import os
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from triz.errors import UnknownParameterError, UnknownPrincipleError
from triz.matrix import ContradictionMatrix, Lookup, check_parameter_id
from triz.resources import find_data_dir
from triz.tables import NamedRow, read_cells, read_named_rows
from triz.text import stems

if TYPE_CHECKING:  # the pydantic-based parts load on first use; quick lookups never import them
    from triz.hazards import HazardChecker, HazardMatch
    from triz.lexicon import Candidate, Lexicon
    from triz.models import Constraint, Parameter, Principle, Separation
    from triz.separation import SeparationOption
    from triz.text import PhraseIndex

__all__ = ["TrizKnowledge", "load"]


class TrizKnowledge:
    """Parameters, principles, matrix, lexicon, constraints, separations and hazard rules."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def validate(self) -> TrizKnowledge:
        """Read every file now (parts are otherwise read on first use); raises :class:`DataFileError`."""
        parts = ("parameter_names", "principle_names", "parameters", "principles", "matrix", "constraints",
                 "separations", "lexicon", "hazards", "_topic_index")
        for part in parts:
            getattr(self, part)
        return self

    @cached_property
    def parameters(self) -> dict[int, Parameter]:
        return _loader().load_parameters(self.folder)

    @cached_property
    def principles(self) -> dict[int, Principle]:
        return _loader().load_principles(self.folder)

    @cached_property
    def matrix(self) -> ContradictionMatrix:
        return ContradictionMatrix(read_cells(self.folder))

    @cached_property
    def constraints(self) -> list[Constraint]:
        return _loader().load_constraints(self.folder)

    @cached_property
    def separations(self) -> list[Separation]:
        return _loader().load_separations(self.folder)

    @cached_property
    def lexicon(self) -> Lexicon:
        from triz.lexicon import Lexicon

        return Lexicon(self.parameters, self.constraints)

    @cached_property
    def _topic_index(self) -> PhraseIndex[str]:
        from triz.text import PhraseIndex

        topics = _loader().load_topics(self.folder)
        return PhraseIndex((name, word) for name, words in topics.items() for word in words)

    def topics(self, text: str) -> dict[str, int]:
        """The house topics (water, heat, noise, pests ...) a text touches, with how many of their words.

        >>> import triz
        >>> triz.load().topics("seepage into the basement under the wall")
        {'water': 2, 'structure': 1}
        """
        return {name: len(words) for name, words in self._topic_index.find(text, gap=0).items()}

    @cached_property
    def hazards(self) -> HazardChecker:
        from triz.hazards import HazardChecker
        from triz.settled import load_settled

        return HazardChecker(_loader().load_hazards(self.folder), load_settled(self.folder))

    @cached_property
    def parameter_names(self) -> dict[int, NamedRow]:
        """Ids, names and alternative names of the 39 parameters (plain, quick to load)."""
        return read_named_rows(self.folder / "parameters.csv", range(1, 40))

    @cached_property
    def principle_names(self) -> dict[int, NamedRow]:
        """Ids, names and alternative names of the 40 principles (plain, quick to load)."""
        return read_named_rows(self.folder / "principles.csv", range(1, 41), ("sub_principles_count_triz40",))

    def parameter_id(self, ref: int | str) -> int:
        """A parameter id from an id (``14``, ``"14"``) or a name, alternative name or unique prefix.

        >>> import triz
        >>> triz.load().parameter_id("Harmful factors affecting the object")
        30
        """
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            return check_parameter_id(int(ref))
        wanted = stems(ref)
        if not wanted:
            raise UnknownParameterError("give a parameter id (1-39) or name")
        rows = self.parameter_names.values()
        exact = [r for r in rows if any(stems(n) == wanted for n in (r.name, *r.also_published_as))]
        if len(exact) == 1:
            return exact[0].id
        prefix = [r for r in rows
                  if any(stems(n)[: len(wanted)] == wanted for n in (r.name, *r.also_published_as))]
        if len(prefix) == 1:
            return prefix[0].id
        if prefix:
            options = ", ".join(f"{r.id} {r.name}" for r in prefix)
            raise UnknownParameterError(f"{ref!r} could mean several parameters: {options}")
        raise UnknownParameterError(
            f"no parameter is named {ref!r}; try `drain parameter {ref}` to search, or an id 1-39"
        )

    def parameter(self, ref: int | str) -> Parameter:
        """A parameter, with description and lexicon, by id or name (see :meth:`parameter_id`)."""
        return self.parameters[self.parameter_id(ref)]

    def principle_id(self, ref: int | str) -> int:
        """A principle id from an id (1-40) or a name or alternative name."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            ident = int(ref)
            if ident not in self.principle_names:
                raise UnknownPrincipleError(f"no principle {ident}: principle ids run from 1 to 40")
            return ident
        wanted = stems(ref)
        found = [r for r in self.principle_names.values()
                 if any(stems(n) == wanted for n in (r.name, *r.also_published_as))]
        if len(found) == 1:
            return found[0].id
        raise UnknownPrincipleError(f"no principle is named {ref!r}; give an id 1-40")

    def principle(self, ref: int | str) -> Principle:
        """A principle, with sub-principles and home examples, by id or name."""
        return self.principles[self.principle_id(ref)]

    def lookup(self, improving: int | str, worsening: int | str) -> Lookup:
        """Matrix lookup by ids or names; see :meth:`ContradictionMatrix.lookup`."""
        return self.matrix.lookup(self.parameter_id(improving), self.parameter_id(worsening))

    def candidates(self, text: str, k: int = 5) -> list[Candidate]:
        """Lexical parameter candidates for a homeowner's text."""
        return self.lexicon.candidates(text, k)

    def check_hazards(self, text: str) -> list[HazardMatch]:
        """Hazard rules that fire on ``text``."""
        return self.hazards.check(text)

    def separate(self, parameter: int | str) -> list[SeparationOption]:
        """Separation principles for a physical contradiction on ``parameter``."""
        from triz.separation import separation_options

        return separation_options(self.parameter_id(parameter), self.separations, self.matrix)


def _loader():
    from triz import loader

    return loader


@cache
def _load_cached(folder: str) -> TrizKnowledge:
    return TrizKnowledge(Path(folder))


def load(folder: str | os.PathLike[str] | None = None, *, lazy: bool = False) -> TrizKnowledge:
    """Load (once per folder) and validate the TRIZ knowledge; default: the shipped ``matrix/``.

    With ``lazy=True`` each part is read and validated on first use, which keeps one-off queries
    such as ``drain matrix 1 14`` fast.
    """
    path = find_data_dir("matrix", folder)
    knowledge = _load_cached(str(path.resolve()))
    return knowledge if lazy else knowledge.validate()
