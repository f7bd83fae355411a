"""The matrix against every fact in shared/data/triz/README.md, read through the public API."""

from __future__ import annotations

from collections import Counter

import pytest

import triz
from triz.errors import UnknownParameterError


def test_filled_and_empty_cells(knowledge: triz.TrizKnowledge) -> None:
    cells = knowledge.matrix.cells()
    assert len(cells) == 1248
    off_diagonal = [(i, w) for i in range(1, 40) for w in range(1, 40) if i != w]
    empty = [key for key in off_diagonal if knowledge.matrix.lookup(*key).empty]
    assert len(off_diagonal) == 1482
    assert len(empty) == 234


def test_cells_by_size(knowledge: triz.TrizKnowledge) -> None:
    sizes = Counter(len(c.principles) for c in knowledge.matrix.cells())
    assert (sizes[1], sizes[2], sizes[3], sizes[4]) == (58, 151, 313, 726)
    assert all(len(set(c.principles)) == len(c.principles) for c in knowledge.matrix.cells())


def test_principle_frequencies(knowledge: triz.TrizKnowledge) -> None:
    top = knowledge.matrix.most_frequent(10)
    assert top[:5] == [(35, 413), (10, 274), (1, 232), (28, 229), (2, 222)]
    assert [p for p, _ in top[5:]] == [18, 15, 19, 32, 13]
    assert len(knowledge.matrix.most_frequent(100)) == 40  # every principle appears


def test_asymmetry(knowledge: triz.TrizKnowledge) -> None:
    assert triz.lookup(1, 14) == (28, 27, 18, 40)
    assert triz.lookup(14, 1) == (1, 8, 40, 15)


@pytest.mark.parametrize(
    ("improving", "worsening", "expected"),
    [
        (1, 3, (15, 8, 29, 34)),
        (1, 9, (2, 8, 15, 38)),
        (2, 4, (10, 1, 29, 35)),
        (9, 10, (13, 28, 15, 19)),
        (10, 1, (8, 1, 37, 18)),
        (10, 14, (35, 10, 14, 27)),
        (39, 1, (35, 26, 24, 37)),
        (38, 39, (5, 12, 35, 26)),
        (30, 32, (24, 35, 2)),
        (19, 9, (8, 15, 35)),
    ],
)
def test_unanimous_cells(improving: int, worsening: int, expected: tuple[int, ...]) -> None:
    assert triz.lookup(improving, worsening) == expected


@pytest.mark.parametrize(("improving", "worsening"), [(1, 2), (1, 4), (9, 25), (39, 9)])
def test_named_empty_cells_fail_closed(knowledge: triz.TrizKnowledge, improving: int, worsening: int) -> None:
    found = knowledge.lookup(improving, worsening)
    assert found.principles == ()
    assert found.reason and "empty" in found.reason


def test_diagonal_fails_closed_with_a_reason(knowledge: triz.TrizKnowledge) -> None:
    for parameter in range(1, 40):
        found = knowledge.lookup(parameter, parameter)
        assert found.principles == ()
        assert "physical contradiction" in found.reason


@pytest.mark.parametrize("bad", [0, 40, -3, 100])
def test_ids_outside_range_are_rejected(bad: int) -> None:
    with pytest.raises(UnknownParameterError, match="1 to 39"):
        triz.lookup(bad, 5)
    with pytest.raises(UnknownParameterError):
        triz.lookup(5, bad)


@pytest.mark.parametrize("bad", [True, 3.5, None])
def test_non_integer_ids_are_rejected(knowledge: triz.TrizKnowledge, bad: object) -> None:
    with pytest.raises(UnknownParameterError):
        knowledge.matrix.lookup(bad, 5)  # type: ignore[arg-type]


def test_lookup_by_name_and_alternative_name(knowledge: triz.TrizKnowledge) -> None:
    assert knowledge.lookup("strength", "weight of moving object").principles == (1, 8, 40, 15)
    assert knowledge.lookup("Harmful factors affecting the object", "Ease of manufacture").principles == (24, 35, 2)
    assert knowledge.parameter_id("Repairability") == 34
    assert knowledge.parameter_id("durability of moving object") == 15


def test_ambiguous_and_unknown_names(knowledge: triz.TrizKnowledge) -> None:
    with pytest.raises(UnknownParameterError, match="several parameters"):
        knowledge.parameter_id("weight")
    with pytest.raises(UnknownParameterError, match="no parameter is named"):
        knowledge.parameter_id("flux capacitor")


def test_variants_file_lists_78_disputed_cells(knowledge: triz.TrizKnowledge) -> None:
    lines = (knowledge.folder / "variants.csv").read_text().strip().splitlines()
    assert len(lines) - 1 == 78
    for line in lines[1:]:
        improving, worsening, canonical = line.split(",")[:3]
        expected = () if canonical == "-" else tuple(int(p) for p in canonical.split())  # "-": kept empty
        assert triz.lookup(int(improving), int(worsening)) == expected


def test_shipped_tables_are_the_verified_copies(knowledge: triz.TrizKnowledge) -> None:
    import hashlib

    expected = {
        "canonical.csv": "e09407683f9de14121f4ac29c3a75f96aa35e4771550cefe0de59e0387ac9a89",
        "parameters.csv": "efc9c57c88422baa178e4c8be8fd91102a7cedbcecb9bb8aab1aa40263b1e731",
        "principles.csv": "eb06c47b8d686d24449ffcb2bc1fde2a059c73355990672b24110a1f89906fa8",
        "variants.csv": "78fe6bc96468cceeeb9af86203df826b5731b6079d1620d731c6325957335808",
    }
    for name, digest in expected.items():
        assert hashlib.sha256((knowledge.folder / name).read_bytes()).hexdigest() == digest, name


def test_graph_queries(knowledge: triz.TrizKnowledge) -> None:
    graph = knowledge.matrix.graph
    assert graph.number_of_nodes() == 79
    assert graph.edges["P1", "P14"]["principles"] == (28, 27, 18, 40)
    assert graph.edges["P14", "P1"]["principles"] == (1, 8, 40, 15)
    assert len(knowledge.matrix.cells_with(35)) == 413
    assert (30, 32) in knowledge.matrix.cells_with(24)
    ranked = knowledge.matrix.rank_principles([(30, 32), (30, 25), (1, 2), (7, 7)])
    assert [r.id for r in ranked][:2] == [35, 24]
    assert ranked[0].count == 2 and ranked[0].cells == ((30, 32), (30, 25))
    assert all(r.count >= 1 for r in ranked)
    assert len(ranked) == 5  # 24 35 2 | 35 18 34: the empty and diagonal pairs add nothing


def test_separation_for_a_physical_contradiction(knowledge: triz.TrizKnowledge) -> None:
    options = knowledge.separate("temperature")
    assert [o.name for o in options] == ["time", "space", "condition", "system level"]
    by_name = {s.name: set(s.principles) for s in knowledge.separations}
    for option in options:
        assert set(option.principles) == by_name[option.name]
    weights = knowledge.matrix.graph
    time_first = options[0].principles[0]
    # the first time-separation principle is one the matrix suggests at least as often for parameter 17
    counts = {p: (weights.get_edge_data(f"IP{p}", "P17") or {"weight": 0})["weight"] for p in options[0].principles}
    assert counts[time_first] == max(counts.values())
