"""`drain matrix`, `drain principle`, `drain parameter`, `drain hazards`: the documented contract."""

from __future__ import annotations

import json

import pytest

from tests.helpers import invoke_drain, run_drain


def test_matrix_json_contract() -> None:
    done = invoke_drain("matrix", "1", "14", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["improving"] == {"id": 1, "name": "Weight of moving object"}
    assert data["worsening"] == {"id": 14, "name": "Strength"}
    assert [p["id"] for p in data["principles"]] == [28, 27, 18, 40]
    assert data["principles"][0]["name"] == "Mechanics substitution"
    assert "reason" not in data


def test_matrix_by_names() -> None:
    done = invoke_drain("matrix", "strength", "weight of moving object", "--format", "json")
    assert [p["id"] for p in json.loads(done.stdout)["principles"]] == [1, 8, 40, 15]


def test_matrix_empty_cell_has_reason() -> None:
    data = json.loads(invoke_drain("matrix", "1", "2", "--format", "json").stdout)
    assert data["principles"] == [] and "empty" in data["reason"]


def test_matrix_all_json() -> None:
    cells = json.loads(invoke_drain("matrix", "--all", "--format", "json").stdout)
    assert len(cells) == 1248
    assert {"improving": 1, "worsening": 14, "principles": [28, 27, 18, 40]} in cells
    assert all(set(c) == {"improving", "worsening", "principles"} for c in cells)


def test_matrix_text_is_readable() -> None:
    done = invoke_drain("matrix", "30", "32")
    text = done.stdout.decode()
    assert done.returncode == 0
    assert "Object-affected harmful factors" in text and "24 Intermediary" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["matrix", "1", "40"], "no parameter 40"),
        (["matrix", "0", "3"], "no parameter 0"),
        (["matrix", "flux capacitor", "3"], "no parameter is named"),
        (["matrix", "weight", "3"], "could mean several parameters"),
        (["principle", "41"], "no principle 41"),
        (["matrix"], "give an improving parameter"),
    ],
)
def test_bad_ids_and_names_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = invoke_drain(*args)
    err = done.stderr.decode()
    assert done.returncode == 2
    assert message in err
    assert "Traceback" not in err
    assert done.stdout == b""


def test_principle_text_and_json() -> None:
    text = invoke_drain("principle", "10").stdout.decode()
    assert "Preliminary action" in text and "foundation" in text
    data = json.loads(invoke_drain("principle", "35", "--format", "json").stdout)
    assert data["id"] == 35 and len(data["cells"]) == 413
    assert len(data["sub_principles"]) == 4 and len(data["home_examples"]) >= 3


def test_parameter_search_json_contract() -> None:
    ranked = json.loads(invoke_drain("parameter", "leak", "--format", "json").stdout)
    assert ranked and set(ranked[0]) == {"id", "name", "score", "matched"}
    assert 30 in [r["id"] for r in ranked]
    assert ranked == sorted(ranked, key=lambda r: -r["score"])
    assert json.loads(invoke_drain("parameter", "zxqv", "--format", "json").stdout) == []


def test_hazards_command() -> None:
    data = json.loads(invoke_drain("hazards", "I smell gas", "--format", "json").stdout)
    assert data[0]["category"] == "gas"


def test_debug_flag_shows_a_traceback() -> None:  # the interpreter prints it: a subprocess
    done = run_drain("--debug", "matrix", "1", "40")
    assert done.returncode != 0 and b"Traceback" in done.stderr


def test_top_level_cli_py_runs_from_a_checkout() -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT

    done = subprocess.run([sys.executable, "cli.py", "matrix", "1", "14", "--format", "json"], cwd=ROOT,
                          capture_output=True, check=False)
    assert done.returncode == 0 and json.loads(done.stdout)["worsening"]["id"] == 14
