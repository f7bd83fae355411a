"""Evaluation: metrics on hand-computed examples, the CLI on a tiny file with the fake backend, report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drain.errors import InputError
from drain.evaluate import metrics
from drain.evaluate.cases import EvalCase, read_cases
from drain.evaluate.runner import METRIC_NAMES, Prediction, aggregate, lexicon_pairs
from tests.helpers import invoke_drain


def test_pair_hits_are_ordered() -> None:
    reference = [(30, 32)]
    assert metrics.pair_hit_at_k([(32, 30)], reference, 3) == 0.0  # reversed is not the same contradiction
    assert metrics.pair_hit_at_k([(1, 2), (30, 32)], reference, 1) == 0.0
    assert metrics.pair_hit_at_k([(1, 2), (30, 32)], reference, 3) == 1.0
    assert metrics.pair_hit_at_k([(1, 2), (3, 4), (5, 6), (30, 32)], reference, 3) == 0.0
    assert metrics.pair_hit_at_k([], reference, 3) == 0.0


def test_pair_precision_recall_counts() -> None:
    # 2 distinct predictions, 1 correct; 2 references, 1 found
    assert metrics.pair_counts([(30, 32), (30, 25), (30, 32)], [(30, 32), (14, 32)]) == (1, 2, 2)
    assert metrics.pair_counts([], [(30, 32)]) == (0, 0, 1)


def test_side_hits_and_empty_predictions() -> None:
    assert metrics.hit_at_1_side([(30, 36), (31, 32)], [(30, 32)], 0) == 1.0
    assert metrics.hit_at_1_side([(30, 36), (31, 32)], [(30, 32)], 1) == 0.0  # only the top pair counts
    assert metrics.hit_at_1_side([], [(30, 32)], 1) == 0.0


def test_param_score_is_unordered() -> None:
    assert metrics.param_score((32, 30), [(30, 32)]) == 30.0
    assert metrics.param_score((30, 36), [(1, 2), (30, 32)]) == 15.0
    assert metrics.param_score((1, 2), [(30, 32)]) == 0.0
    assert metrics.param_score(None, [(30, 32)]) == 0.0


def test_principles_f1_and_hit() -> None:
    assert metrics.principle_hit_at_k([35, 10, 24], [24], 3) == 1.0
    assert metrics.principle_hit_at_k([35, 10, 1, 24], [24], 3) == 0.0
    assert metrics.f1([24, 35, 2], [24, 35, 2]) == 1.0
    assert round(metrics.f1([24, 35], [24, 2, 10]), 3) == 0.4  # p = 1/2, r = 1/3
    assert metrics.f1([], [24]) == 0.0


def test_consistency_with_ties() -> None:
    assert metrics.consistency([(30, 32), (30, 25), (30, 32), (30, 25)]) == 0.5  # a tie: the modal share
    assert metrics.consistency([(30, 32)] * 3) == 1.0
    assert metrics.consistency([(30, 32), None, None]) == 0.667


def test_principle_ranking_ties_break_by_position(knowledge) -> None:  # type: ignore[no-untyped-def]
    # 30x32 = 24 35 2 and 30x25 = 35 18 34: 35 is in both (first); the rest tie on one cell each and go
    # by their best position in a cell (24 first, 18 second), then by id (2 before 34, both third)
    ranked = [r.id for r in knowledge.matrix.rank_principles([(30, 32), (30, 25)])]
    assert ranked == [35, 24, 18, 2, 34]
    # 30x32 and 14x32 = 11 3 10 32 share nothing: position, then id
    assert [r.id for r in knowledge.matrix.rank_principles([(30, 32), (14, 32)])] == [11, 24, 3, 35, 2, 10, 32]


def test_aggregate_by_hand() -> None:
    cases = [EvalCase(id="a", problem="x", pairs=[(30, 32)], principles_used=[24, 2], hazards=["gas"]),
             EvalCase(id="b", problem="y", pairs=[(22, 32)], principles_used=[35], hazards=[])]
    predictions = [
        Prediction("a", 0, "drain", pairs=[(30, 32), (30, 25)], principles=[24, 35, 2], hazards=["gas", "fire"]),
        Prediction("b", 0, "drain", pairs=[], principles=[], hazards=[]),
    ]
    result = aggregate(cases, predictions)
    assert set(METRIC_NAMES) <= set(result)
    assert result["pair_hit@1"] == 0.5 and result["pair_hit@3"] == 0.5
    assert result["pair_precision"] == 0.5 and result["pair_recall"] == 0.5
    assert result["param_score"] == 15.0  # (30 + 0) / 2
    assert result["hazard_recall"] == 1.0 and result["hazard_precision"] == 0.5
    assert result["consistency"] is None  # one run
    assert result["principle_hit@3"] == 0.5


def test_lexicon_baseline_pairs(knowledge) -> None:  # type: ignore[no-untyped-def]
    pairs = lexicon_pairs(knowledge, "leaking basement on budget")
    assert pairs and all(i != w for i, w in pairs)


def test_read_cases_errors(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "problem": "noisy furnace"}\n{"id": "a", "problem": "again"}\n')
    with pytest.raises(InputError, match="line 2: id 'a' repeats line 1"):
        read_cases(path)
    path.write_text('{"id": "a", "problem": "noisy furnace", "pairs": [[30]]}\n')
    with pytest.raises(InputError, match="line 1: pairs"):
        read_cases(path)


def test_eval_cli_on_a_tiny_file(tmp_path: Path) -> None:
    cases = tmp_path / "tiny.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in [
        {"id": "t1", "problem": "leaking basement on budget", "pairs": [[30, 32]], "principles_used": [24, 35, 2]},
        {"id": "t2", "problem": "I smell gas near the stove", "pairs": [[31, 36]], "hazards": ["gas"]},
        {"id": "t3", "problem": "drafty windows, can't replace them", "pairs": [[22, 36]], "split": "dev"},
    ]) + "\n")
    out = {name: tmp_path / name for name in ("m.json", "p.jsonl", "r.md", "c.png")}
    done = invoke_drain("eval", str(cases), "--backend", "fake", "--baseline", "plain", "--baseline", "lexicon",
                        "--repeats", "2", "--json", str(out["m.json"]), "--predictions", str(out["p.jsonl"]),
                        "--report", str(out["r.md"]), "--chart", str(out["c.png"]))
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(out["m.json"].read_text())
    assert set(METRIC_NAMES) <= set(result)
    assert 0.33 <= result["pair_hit@1"] <= 1.0  # the fake takes the best-ranked candidate
    assert result["hazard_recall"] == 1.0
    assert set(result["baselines"]) == {"plain", "lexicon"}
    assert result["consistency"] == 1.0 and result["meta"]["repeats"] == 2
    lines = [json.loads(line) for line in out["p.jsonl"].read_text().splitlines()]
    assert {(line["id"], line["run"]) for line in lines if line["system"] == "drain"} == {
        (c, r) for c in ("t1", "t2", "t3") for r in (0, 1)}
    assert all(set(line) >= {"id", "run", "pairs", "principles"} for line in lines)
    first = next(line for line in lines if line["system"] == "drain" and line["id"] == "t1")
    assert first["pairs"][0] == [30, 32]  # the basement's family reading, first
    report = out["r.md"].read_text()
    assert "| pair_hit@1 |" in report and "| t2 |" in report
    assert out["c.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_cli_split_filter_and_bad_file(tmp_path: Path) -> None:
    cases = tmp_path / "tiny.jsonl"
    cases.write_text('{"id": "a", "problem": "noisy furnace", "pairs": [[31, 36]], "split": "train"}\n')
    done = invoke_drain("eval", str(cases), "--split", "dev", "--backend", "fake")
    assert done.returncode == 2 and b"no cases in split 'dev'" in done.stderr
    cases.write_text("not json\n")
    done = invoke_drain("eval", str(cases), "--backend", "fake")
    assert done.returncode == 2 and b"line 1: not JSON" in done.stderr and b"Traceback" not in done.stderr
