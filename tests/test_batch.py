"""`drain batch`: readers with line numbers, resume, crash safety under SIGKILL, malformed and duplicate
lines, summaries, and a progress display that survives pipes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from drain.backends.fake import FakeBackend
from drain.batch import (
    BatchItem,
    DoneRecords,
    JsonlAppender,
    RequestGate,
    plan_batch,
    read_done,
    read_items,
    run_batch,
    stable_id,
)
from drain.errors import BackendUnavailableError, InputError
from tests.helpers import ROOT, invoke_drain, run_drain

PROBLEMS = [
    "leaking basement on budget", "noisy furnace", "drafty windows, can't replace them",
    "musty smell in the bedroom closet", "ice dams on the roof every winter", "squeaky floor in the hallway",
    "bathroom fan does not clear the steam", "gutters overflow in heavy rain", "cold bedroom over the garage",
    "mice in the kitchen cupboards",
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("DRAIN_HOME", str(folder))
    monkeypatch.delenv("DRAIN_FAKE_DELAY", raising=False)
    return folder


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"DRAIN_HOME": str(home), "DRAIN_FAKE_DELAY": "", **extra}


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the output ends in a partial line"
    return [json.loads(line) for line in data.splitlines()]


# ------------------------------------------------------------------------------------------------ readers
def test_jsonl_reader_reports_line_numbers(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "problem": "noisy furnace", "city": "Oslo"}, "", "{broken", "[1, 2]", {"problem": "no id"},
        {"id": "b"}, {"id": "c", "problem": "  "}, {"id": True, "problem": "x"}, {"id": 7, "problem": "ok"},
    ])
    items = read_items(path)
    assert [(i.line, i.key, i.error is None) for i in items] == [
        (1, "a", True), (3, "line-3", False), (4, "line-4", False), (5, "line-5", False), (6, "b", False),
        (7, "c", False), (8, "line-8", False), (9, "7", True)]
    assert items[0].extra == {"city": "Oslo"} and items[0].problem == "noisy furnace"
    assert "not valid JSON" in (items[1].error or "") and "JSON object" in (items[2].error or "")
    assert 'no "problem"' in (items[4].error or "")


def test_jsonl_reader_survives_a_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": "a", "problem": "caf\xe9"}\n{"id": "b", "problem": "noisy furnace"}\n')
    items = read_items(path)
    assert items[0].error is not None and "UTF-8" in items[0].error
    assert items[1].problem == "noisy furnace"


def test_csv_reader(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,problem,room\nw1,"leaking basement, on budget",basement\nw2,"two\nlines",attic\n'
                    'w3,missing field\n\nw4,noisy furnace,hall\n', encoding="utf-8")
    items = read_items(path)
    assert [(i.line, i.key, i.error is None) for i in items] == [
        (2, "w1", True), (3, "w2", True), (5, "line-5", False), (7, "w4", True)]
    assert items[0].problem == "leaking basement, on budget" and items[0].extra == {"room": "basement"}
    assert items[1].problem == "two\nlines"
    (tmp_path / "bad.csv").write_text("name,text\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'problem' column"):
        read_items(tmp_path / "bad.csv")


def test_txt_ids_are_stable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("noisy furnace\n\nleaking basement\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("leaking   basement\r\nnoisy furnace \n", encoding="utf-8")
    first, second = read_items(tmp_path / "a.txt"), read_items(tmp_path / "b.txt")
    assert [i.line for i in first] == [1, 3]
    assert {i.key for i in first} == {i.key for i in second}
    assert first[0].key == stable_id("noisy furnace") and first[0].key.startswith("p-")


def test_unknown_format_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "in.xlsx").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="--input-format"):
        read_items(tmp_path / "in.xlsx")


def test_duplicates_are_reported_not_merged() -> None:
    items = [BatchItem(1, "a", "x"), BatchItem(2, "b", "y"), BatchItem(3, "a", "z"), BatchItem(4, 1, "w"),
             BatchItem(5, "1", "v")]
    plan = plan_batch(items, DoneRecords())
    assert [i.line for i in plan.todo] == [1, 2, 4]
    assert [(r["line"], r["duplicate"]) for r in plan.records] == [(3, True), (5, True)]
    assert "first on line 1" in plan.records[0]["error"] and len(plan.duplicates) == 2
    again = plan_batch(items, DoneRecords(ids={"a", "b", "1"}, duplicate_lines={3, 5}))
    assert again.todo == [] and again.records == [] and again.skipped == 5


# ------------------------------------------------------------------------------------------------ the appender
def test_appender_writes_whole_lines_and_repairs_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path) as out:
        out.write({"id": "a", "result": {"problem": "é"}})
        out.write({"id": "b", "error": "boom"})
    with path.open("ab") as handle:
        handle.write(b'{"id": "c", "resu')  # what a power cut in the middle of a write could leave
    done = read_done(path)
    assert done.ids == {"a", "b"} and done.errors == 1 and done.repaired == len(b'{"id": "c", "resu')
    assert [r["id"] for r in _records(path)] == ["a", "b"]


def test_appender_refuses_a_second_writer(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path), pytest.raises(InputError, match="another drain batch"):
        JsonlAppender(path)


def test_read_done_refuses_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"hello": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match="not a drain batch record"):
        read_done(path)


# ------------------------------------------------------------------------------------------------ the runner
def test_run_batch_bounds_concurrency_and_records_failures() -> None:
    active = peak = 0

    class Tree:
        class stats:  # the attributes run_batch reads
            partial_nodes = prompt_tokens = completion_tokens = llm_calls = 1

        def model_dump(self, mode: str) -> dict[str, Any]:
            return {"ok": True}

    async def solve(problem: str) -> Any:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        if problem == "bad":
            raise ValueError("no good")
        return Tree()

    written: list[dict[str, Any]] = []
    items = [BatchItem(n, f"id{n}", "bad" if n == 3 else "fine") for n in range(1, 11)]
    stats = asyncio.run(run_batch(items, solve, written.append, concurrency=3))
    assert peak == 3 and stats.solved == 9 and stats.failed == 1 and len(written) == 10
    assert next(r for r in written if r["id"] == "id3")["error"] == "ValueError: no good"


def test_run_batch_stops_when_the_server_is_gone() -> None:
    async def solve(problem: str) -> Any:
        raise BackendUnavailableError("cannot reach the model server")

    written: list[dict[str, Any]] = []
    with pytest.raises(BackendUnavailableError):
        asyncio.run(run_batch([BatchItem(1, "a", "x"), BatchItem(2, "b", "y")], solve, written.append))
    assert written == []  # nothing recorded: a rerun retries them


def test_request_gate_keeps_the_server_at_the_concurrency() -> None:
    from drain.planner import Planner

    fake = FakeBackend(delay=0.01)
    gate = RequestGate(fake, 3)
    items = [BatchItem(n, f"id{n}", PROBLEMS[n % len(PROBLEMS)]) for n in range(12)]
    written: list[dict[str, Any]] = []
    stats = asyncio.run(run_batch(items, Planner(gate, log=False).solve_async, written.append, gate=gate))
    assert stats.solved == 12 and sorted(r["id"] for r in written) == sorted(i.id for i in items)
    assert fake.max_in_flight == 3 and gate.active == 0
    assert all(r["result"]["backend"]["backend"] == "fake" for r in written)


def test_request_gate_stops_on_a_dead_server() -> None:
    from drain.planner import Planner

    fake = FakeBackend(lambda request: BackendUnavailableError("cannot reach the model server"), delay=0.01)
    gate = RequestGate(fake, 4)
    written: list[dict[str, Any]] = []
    items = [BatchItem(n, f"id{n}", "noisy furnace") for n in range(10)]
    with pytest.raises(BackendUnavailableError):
        asyncio.run(run_batch(items, Planner(gate, log=False).solve_async, written.append, gate=gate))
    assert written == [] and gate.active == 0


# ------------------------------------------------------------------------------------------------ the command
def test_batch_cli_malformed_duplicates_and_resume(tmp_path: Path, home: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "problem": "leaking basement on budget", "tag": "x"}, "not json",
        {"id": "b", "problem": "noisy furnace"}, {"id": "a", "problem": "another text"}, {"problem": "no id"},
    ])
    out = tmp_path / "out.jsonl"
    done = invoke_drain("batch", str(source), "-o", str(out), "--backend", "fake", env=_env(home))
    assert done.returncode == 5, done.stderr
    stderr = done.stderr.decode()
    assert "line 2: not valid JSON" in stderr and "line 5: no \"id\"" in stderr
    assert "line 4: duplicate id 'a' (first on line 1)" in stderr and "Traceback" not in stderr
    records = _records(out)
    assert len(records) == 5
    solved = {r["id"]: r for r in records if "result" in r}
    assert set(solved) == {"a", "b"} and solved["a"]["tag"] == "x"
    assert solved["a"]["result"]["problem"] == "leaking basement on budget" and solved["a"]["result"]["run_id"]
    assert sorted(r["line"] for r in records if "error" in r) == [2, 4, 5]
    again = invoke_drain("batch", str(source), "-o", str(out), "--backend", "fake", env=_env(home))
    assert again.returncode == 5 and _records(out) == records
    assert "5 already done" in again.stderr.decode()


def test_batch_counts_only_its_own_failures_in_a_shared_output(tmp_path: Path, home: Path) -> None:
    out = tmp_path / "out.jsonl"
    other = _write_jsonl(tmp_path / "other.jsonl", ["not json", {"problem": "no id"}])
    assert invoke_drain("batch", str(other), "-o", str(out), "--backend", "fake", env=_env(home)).returncode == 5
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "problem": "noisy furnace"}, {"id": "b", "problem": ""}])
    done = invoke_drain("batch", str(source), "-o", str(out), "--backend", "fake", env=_env(home))
    assert done.returncode == 5 and "1 of 2 problems failed" in done.stderr.decode(), done.stderr
    assert len(_records(out)) == 4  # the other input's two error records are kept


def test_batch_txt_and_csv_summary(tmp_path: Path, home: Path) -> None:
    source = tmp_path / "problems.txt"
    source.write_text("\n".join(PROBLEMS[:3]) + "\n", encoding="utf-8")
    done = invoke_drain("batch", str(source), "--backend", "fake", "--summary", str(tmp_path / "s.csv"),
                        env=_env(home))
    assert done.returncode == 0, done.stderr
    records = _records(tmp_path / "problems.results.jsonl")
    assert {r["id"] for r in records} == {stable_id(p) for p in PROBLEMS[:3]}
    import pandas as pd

    table = pd.read_csv(tmp_path / "s.csv")
    assert len(table) == 3 and set(table["status"]) <= {"ok", "partial"}
    assert table["run_id"].notna().all()


def test_batch_parquet_summary_and_no_log(tmp_path: Path, home: Path) -> None:
    pytest.importorskip("pyarrow")
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "problem": "noisy furnace"}])
    done = invoke_drain("batch", str(source), "--backend", "fake", "--no-log", "--summary",
                        str(tmp_path / "s.parquet"), env=_env(home))
    assert done.returncode == 0, done.stderr
    import pandas as pd

    assert pd.read_parquet(tmp_path / "s.parquet")["id"].tolist() == ["1"]
    assert _records(tmp_path / "in.results.jsonl")[0]["result"]["run_id"] is None
    runs = invoke_drain("runs", "--format", "json", env=_env(home))
    assert json.loads(runs.stdout) == []


def test_batch_runs_are_logged_with_their_source(tmp_path: Path, home: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "problem": "noisy furnace"}])
    assert invoke_drain("batch", str(source), "--backend", "fake", env=_env(home)).returncode == 0
    record = _records(tmp_path / "in.results.jsonl")[0]
    runs = json.loads(invoke_drain("runs", "--format", "json", env=_env(home)).stdout)
    assert [(r["id"], r["source"]) for r in runs] == [(record["result"]["run_id"], "batch")]


def test_progress_is_plain_when_piped(tmp_path: Path, home: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": n, "problem": p} for n, p in enumerate(PROBLEMS[:4])])
    done = invoke_drain("batch", str(source), "-o", "-", "--backend", "fake", env=_env(home))
    assert done.returncode == 0, done.stderr
    assert b"\x1b[" not in done.stderr and b"\r" not in done.stderr
    assert b"4/4 done" in done.stderr and b"solved" in done.stderr
    lines = done.stdout.decode().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == [0, 1, 2, 3]


def test_progress_bar_on_a_terminal_with_output_piped(tmp_path: Path, home: Path) -> None:
    import pty

    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": n, "problem": p} for n, p in enumerate(PROBLEMS[:4])])
    leader, follower = pty.openpty()
    screen = bytearray()

    def read_terminal() -> None:  # keep the terminal drained, as a real one would be
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    process = subprocess.Popen(
        [sys.executable, "-m", "drain", "batch", str(source), "-o", "-", "--backend", "fake"],
        stdout=subprocess.PIPE, stderr=follower, cwd=ROOT, env={**os.environ, **_env(home), "COLUMNS": "100"})
    os.close(follower)
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    assert process.returncode == 0, screen.decode(errors="replace")
    assert b"4/4" in screen and b"ETA" in screen  # the rich bar, with its rate and ETA, went to the terminal
    assert sorted(json.loads(line)["id"] for line in stdout.decode().splitlines()) == [0, 1, 2, 3]


def _wait_lines(path: Path, count: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


def test_sigkill_mid_run_then_resume(tmp_path: Path, home: Path) -> None:
    problems = [{"id": f"p{n:02d}", "problem": f"{PROBLEMS[n % len(PROBLEMS)]} (case {n})"} for n in range(24)]
    source = _write_jsonl(tmp_path / "in.jsonl", problems)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "drain", "batch", str(source), "-o", str(out), "--backend", "fake",
               "--concurrency", "3", "--quiet"]
    env = {**os.environ, **_env(home, DRAIN_FAKE_DELAY="0.03")}
    seen: list[bytes] = []
    for kill_after in (3, 9, 15):  # kill it three times, at different places in the file
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_lines(out, kill_after, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        data = out.read_bytes()
        lines = data.splitlines(keepends=True)
        assert data.endswith(b"\n"), "a killed batch left a partial line"
        assert lines[: len(seen)] == seen, "lines written before the kill changed"
        ids = [json.loads(line)["id"] for line in lines]
        assert len(ids) == len(set(ids)), "a killed batch left a duplicated line"
        assert len(ids) < len(problems), "the batch finished before it was killed; make it slower"
        seen = lines
    finished = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    records = _records(out)
    assert sorted(r["id"] for r in records) == [p["id"] for p in problems]
    assert all("result" in r for r in records)
    assert out.read_bytes().splitlines(keepends=True)[: len(seen)] == seen
    assert f"{len(seen)} already done".encode() in finished.stderr


def test_retry_errors(tmp_path: Path, home: Path) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "problem": "noisy furnace"}])
    out = _write_jsonl(tmp_path / "out.jsonl", [{"id": "a", "line": 1, "error": "BackendError: 503"}])
    assert invoke_drain("batch", str(source), "-o", str(out), "-b", "fake", env=_env(home)).returncode == 5
    assert _records(out) == [{"id": "a", "line": 1, "error": "BackendError: 503"}]
    done = invoke_drain("batch", str(source), "-o", str(out), "-b", "fake", "--retry-errors", env=_env(home))
    assert done.returncode == 0, done.stderr
    assert [("result" in r, r["id"]) for r in _records(out)] == [(True, "a")]


def test_bad_arguments_are_one_line_errors(tmp_path: Path, home: Path) -> None:
    missing = invoke_drain("batch", str(tmp_path / "nope.jsonl"), "-b", "fake", env=_env(home))
    assert missing.returncode == 2 and missing.stderr.decode().startswith("drain: error: cannot read")
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "problem": "noisy furnace"}])
    bad = invoke_drain("batch", str(source), "-b", "fake", "--summary", str(tmp_path / "s.xlsx"), env=_env(home))
    assert bad.returncode == 2 and b"--summary" in bad.stderr and b"Traceback" not in bad.stderr


@pytest.mark.model
def test_batch_against_the_loopback_openai_server(tmp_path: Path, home: Path) -> None:
    """The real model behind llama.cpp's OpenAI-compatible HTTP server: the batch path end to end."""
    xllamacpp = pytest.importorskip("xllamacpp")
    from drain.backends.embedded import default_model_path
    from drain.errors import ModelNotFoundError

    try:
        model = default_model_path()
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_parallel, params.n_ctx = 2, 4096
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    params.warmup, params.verbosity = False, -1
    params.sampling.samplers, params.sampling.top_k = "top_k", 1  # greedy, as the embedded backend asks
    server = xllamacpp.Server(params)
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "w1", "problem": "leaking basement on budget"}])
    done = run_drain("batch", str(source), "--backend", "openai", "--base-url", str(server.listening_address),
                     "--depth", "1", "--max-calls", "4", "--concurrency", "2", env=_env(home), timeout=900)
    del server
    assert done.returncode == 0, done.stderr
    (record,) = _records(tmp_path / "in.results.jsonl")
    result = record["result"]
    assert record["id"] == "w1" and result["contradictions"] and result["run_id"]
    assert result["backend"]["backend"] == "openai" and 1 <= result["stats"]["llm_calls"] <= 4
    runs = json.loads(run_drain("runs", "--format", "json", env=_env(home)).stdout)
    assert [(r["id"], r["source"]) for r in runs] == [(result["run_id"], "batch")]


# ------------------------------------------------------------------------------------------------ the Ray recipe
def test_ray_recipe_rounds_rebuild_the_planners_tree() -> None:
    """The Ray recipe's rounds (planner on a replay backend, parked requests answered in bulk) give the
    very tree the planner gives directly; Ray itself is not needed for this part."""
    from drain.backends.fake import minimal_instance
    from drain.batch_ray import plan_round
    from drain.planner import Planner

    problem = "leaking basement on budget"
    direct = Planner(FakeBackend(), log=False).solve(problem)
    row: dict[str, Any] = {"id": "w1", "problem": problem, "replies": "{}"}
    rounds = 0
    while True:
        row = plan_round(row)
        pending = json.loads(row["pending"])
        if not pending:
            break
        rounds += 1
        replies = json.loads(row["replies"])
        for request in pending:  # what the vLLM stage does, here with the fake backend's replies
            replies[request["key"]] = {"text": json.dumps(minimal_instance(request["schema"])),
                                       "prompt_tokens": 1, "completion_tokens": 1}
        row["replies"] = json.dumps(replies)
    assert row["error"] == "" and 1 <= rounds <= 12  # one round: frame and contradict (the cards need no choice)
    tree = json.loads(row["result"])
    assert tree["backend"]["backend"] == "ray-vllm"
    ignore = {"stats", "run_id", "backend"}
    assert {k: v for k, v in tree.items() if k not in ignore} == \
        {k: v for k, v in direct.model_dump(mode="json").items() if k not in ignore}
    assert tree["stats"]["llm_calls"] == direct.stats.llm_calls


def test_ray_recipe_imports_without_ray() -> None:
    import importlib

    module = importlib.import_module("drain.batch_ray")
    assert callable(module.run_ray_batch)
