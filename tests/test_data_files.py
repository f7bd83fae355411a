"""A malformed or hand-edited data file fails at load, naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

import triz
from tests.helpers import invoke_drain
from triz.errors import DataFileError
from triz.knowledge import TrizKnowledge


def _load(folder: Path) -> TrizKnowledge:
    return TrizKnowledge(folder).validate()


def _replace_line(path: Path, line_no: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line_no - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_shipped_data_validates(knowledge: triz.TrizKnowledge) -> None:
    assert len(knowledge.parameters) == 39 and len(knowledge.principles) == 40
    for principle in knowledge.principles.values():
        assert len(principle.sub_principles) == principle.sub_principles_count
        assert len(principle.home_examples) >= 3
    for parameter in knowledge.parameters.values():
        assert parameter.description and len(parameter.lexicon) >= 8
    assert {s.name for s in knowledge.separations} == {"time", "space", "condition", "system level"}
    required = {"gas", "electrical", "structural", "asbestos", "lead", "carbon_monoxide", "mold_large_area",
                "work_at_height", "fire", "water_heater_pressure"}
    assert required <= set(knowledge.hazards.rules)
    assert {"budget", "labour", "time", "skill", "renting"} <= {c.name for c in knowledge.constraints}


@pytest.mark.parametrize(
    ("line", "content", "problem"),
    [
        (5, "1,5,29 17 38 34 2", "1 to 4 principles"),
        (5, "1,5,29 17 17", "repeated"),
        (5, "1,1,29 17", "diagonal"),
        (5, "1,5,29 17 41", "outside 1..40"),
        (5, "1,40,29", "outside 1..39"),
        (5, "1,five,29", "whole number"),
        (5, "1,5", "expected 3 fields"),
        (6, "1,3,15 8 29 34", "repeated (first on line 2)"),
    ],
)
def test_corrupted_matrix_row(matrix_copy: Path, line: int, content: str, problem: str) -> None:
    _replace_line(matrix_copy / "canonical.csv", line, content)
    with pytest.raises(DataFileError) as caught:
        _load(matrix_copy)
    message = str(caught.value)
    assert "canonical.csv" in message and f"line {line}" in message and problem in message


def test_wrong_header(matrix_copy: Path) -> None:
    _replace_line(matrix_copy / "canonical.csv", 1, "row,column,principles")
    with pytest.raises(DataFileError, match=r"canonical.csv, line 1: header must be"):
        _load(matrix_copy)


def test_missing_file(matrix_copy: Path) -> None:
    (matrix_copy / "hazards.toml").unlink()
    with pytest.raises(DataFileError, match=r"hazards.toml: file not found"):
        _load(matrix_copy)


def test_binary_garbage(matrix_copy: Path) -> None:
    (matrix_copy / "parameters.csv").write_bytes(b"id,name,also_published_as\n1,\xff\xfe,\n")
    with pytest.raises(DataFileError, match=r"parameters.csv: not UTF-8"):
        _load(matrix_copy)


def test_toml_syntax_error_names_the_line(matrix_copy: Path) -> None:
    path = matrix_copy / "principles.toml"
    lines = path.read_text().splitlines()
    target = next(n for n, text in enumerate(lines, start=1) if text.startswith("summary"))
    _replace_line(path, target, 'summary = "unterminated')
    with pytest.raises(DataFileError) as caught:
        _load(matrix_copy)
    assert f"principles.toml, line {target}: TOML syntax" in str(caught.value)


def test_semantic_error_names_the_record_line(matrix_copy: Path) -> None:
    path = matrix_copy / "principles.toml"
    text = path.read_text()
    header_line = next(n for n, t in enumerate(text.splitlines(), start=1) if t.startswith("[[principle]]"))
    path.write_text(text.replace("id = 1\n", "id = 1\nunexpected = true\n", 1))
    with pytest.raises(DataFileError, match=rf"principles.toml, line {header_line}: unexpected keys"):
        _load(matrix_copy)


def test_sub_principle_count_must_match_the_published_count(matrix_copy: Path) -> None:
    path = matrix_copy / "principles.csv"
    _replace_line(path, 2, "1,Segmentation,,4")
    with pytest.raises(DataFileError, match=r"principles.toml, line \d+: principle 1 has 3 sub-principles, "):
        _load(matrix_copy)


def test_duplicate_parameter_record(matrix_copy: Path) -> None:
    path = matrix_copy / "parameters.toml"
    path.write_text(path.read_text().replace("id = 2\n", "id = 1\n", 1))
    with pytest.raises(DataFileError, match=r"parameters.toml, line \d+: parameter 1 appears twice"):
        _load(matrix_copy)


def test_bad_hazard_severity(matrix_copy: Path) -> None:
    path = matrix_copy / "hazards.toml"
    path.write_text(path.read_text().replace('severity = "stop"', 'severity = "maybe"', 1))
    with pytest.raises(DataFileError, match=r"hazards.toml, line \d+: severity"):
        _load(matrix_copy)


def test_separation_principle_out_of_range(matrix_copy: Path) -> None:
    path = matrix_copy / "separation.toml"
    text = path.read_text()
    start = text.index("principles = [")
    path.write_text(text[:start] + "principles = [41, " + text[start + len("principles = ["):])
    with pytest.raises(DataFileError, match=r"separation.toml, line \d+: principles.0"):
        _load(matrix_copy)


def test_env_override_points_to_a_copy(matrix_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DRAIN_MATRIX_DIR reaches the core through DRAIN's configuration (the core reads no environment)."""
    from drain.config import load_config
    from triz.resources import find_data_dir

    monkeypatch.setenv("DRAIN_MATRIX_DIR", str(matrix_copy))
    assert find_data_dir("matrix", load_config().matrix_dir) == matrix_copy
    _replace_line(matrix_copy / "canonical.csv", 1, "row,column,principles")  # drain matrix reads the copy
    done = invoke_drain("matrix", "1", "14")
    assert done.returncode == 3 and str(matrix_copy / "canonical.csv") in done.stderr.decode()
