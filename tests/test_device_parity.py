"""Python and the phone's JavaScript engine give the same answers for the same inputs (issue 13).

tests/data/device_fixtures.json holds Python's readings and trees (tests/device_fixtures.py); node runs
the engine of drain/serve/static/engine/ on the exported data with the same query vectors and the same
scripted model (tests/js/run_fixtures.mjs). Compared: reply validation (valid, or the re-ask's error),
rule hazards (problem and fix wording), constraints, similar-situation hazards, family ranking, causes,
candidate pairs, the matrix cells, the offered cards, and the whole solution tree (every contradiction,
principle, idea, question, part, follow-up and stat but the clock's). Every matrix cell is compared too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.device_fixtures import FIXTURES, build_fixtures

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from drain.device.export import write_export

    folder = tmp_path_factory.mktemp("device")
    write_export(folder)
    return folder


def _node(script: str, *args: str) -> Any:
    done = subprocess.run([NODE, str(ROOT / "tests" / "js" / script), *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def both(exported: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    python = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return python, _node("run_fixtures.mjs", str(exported), str(FIXTURES))


def _without_clock(tree: dict[str, Any]) -> dict[str, Any]:
    tree = dict(tree)
    tree["stats"] = {k: v for k, v in tree["stats"].items() if k not in ("wall_seconds", "model_seconds")}
    return tree


def test_the_fixtures_are_those_of_todays_data(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    python, javascript = both
    assert javascript["digest"] == python["digest"], "stale fixtures: run python -m tests.device_fixtures"


def test_problem_checks_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The same one-line refusals (empty, too long, another script) and warnings (another language in Latin
    letters, instructions to the model) on the phone as on the server."""
    python, javascript = both
    assert javascript["checks"] == python["checks"]
    assert any(refused for _, refused, _ in python["checks"]) and any(warned for _, _, warned in python["checks"])


def test_rules_and_constraints_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    python, javascript = both
    assert javascript["rules"] == python["rules"]
    assert javascript["constraints"] == python["constraints"]
    assert any(fired for _, fired, _, _ in python["rules"]) and any(not fired for _, fired, _, _ in python["rules"])
    assert any(aside for *_, aside in python["rules"])  # the settled reading is compared too


def test_reply_validation_matches(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The same replies are accepted (parsed the same) or refused with the error the re-ask quotes."""
    python, javascript = both
    assert javascript["replies"] == python["replies"]
    assert {error is None for *_, error in python["replies"]} == {True, False}


def test_word_vectors_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The hazard probe's word features: the same tokens hashed to the same places, the same float32 value."""
    python, javascript = both
    assert javascript["words"] == python["words"]
    assert any(len(places) > 4 for _, places, _ in python["words"]) and ["   ", [], 0.0] in python["words"]


def test_clauses_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The phone cuts a message into the same clauses for the hazard check."""
    python, javascript = both
    assert javascript["clauses"] == python["clauses"]
    assert any(len(pieces) >= 3 for _, pieces in python["clauses"])
    assert ["the gas meter hisses", []] in python["clauses"]


@pytest.mark.parametrize("field", ["rule_hazards", "similar_hazards", "probabilities", "families", "close_call",
                                   "causes", "pairs", "cells", "cards"])
def test_each_reading_matches(both: tuple[dict[str, Any], dict[str, Any]], field: str) -> None:
    python, javascript = both
    assert [c["problem"] for c in javascript["cases"]] == [c["problem"] for c in python["cases"]]
    for mine, theirs in zip(javascript["cases"], python["cases"], strict=True):
        assert not mine["missing_vectors"], mine["missing_vectors"]
        assert mine[field] == theirs[field], (theirs["problem"], field)


def test_whole_trees_match(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    python, javascript = both
    for mine, theirs in zip(javascript["cases"], python["cases"], strict=True):
        assert _without_clock(mine["tree"]) == _without_clock(theirs["tree"]), theirs["problem"]
    gas = next(c for c in python["cases"] if "gas" in c["problem"])
    assert gas["tree"]["hazards"][0]["severity"] == "stop" and gas["tree"]["stats"]["reasks"] == 1


def test_the_trees_are_valid_solve_json(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    from drain.schema import SolutionTree

    _, javascript = both
    for case in javascript["cases"]:
        tree = SolutionTree.model_validate(case["tree"])
        assert tree.schema_version == 2 and tree.contradictions


def test_every_matrix_cell_matches(exported: Path) -> None:
    import triz

    knowledge = triz.load()
    cells = _node("matrix_cells.mjs", str(exported))
    for i in range(1, 40):
        for w in range(1, 40):
            found = knowledge.matrix.lookup(i, w)
            assert cells[f"{i}x{w}"] == [list(found.principles), found.reason], (i, w)


def test_the_fixture_file_is_what_the_generator_writes_now() -> None:
    """Stale fixtures fail here (regenerate with ``python -m tests.device_fixtures``)."""
    fresh = json.loads(json.dumps(build_fixtures(), sort_keys=True))
    stored = json.loads(FIXTURES.read_text(encoding="utf-8"))
    assert fresh == stored
