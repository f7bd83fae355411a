"""`drain batch` on bad input and a failing server: an unterminated CSV quote costs its own row only, an
empty file says so, and a server that fails every request trips the circuit breaker (the rest is
recorded as not attempted, and a rerun solves it)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drain.batch import BatchItem, read_items, run_batch
from drain.errors import BackendError, InputError
from tests.helpers import invoke_drain

PROBLEMS = ["leaking basement on budget", "noisy furnace", "drafty windows, can't replace them",
            "musty smell in the bedroom closet", "ice dams on the roof every winter", "squeaky floor in the hallway"]


def _env(home: Path) -> dict[str, str]:
    return {"DRAIN_HOME": str(home), "DRAIN_FAKE_DELAY": ""}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


# ------------------------------------------------------------------------------------------------ CSV quotes
def test_an_unterminated_quote_costs_its_own_row_only(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,problem\nc1,"leaking basement on budget\nc2,noisy furnace\nc3,drafty windows\n',
                    encoding="utf-8")
    items = read_items(path)
    assert [(i.line, i.key, i.problem) for i in items] == [
        (2, "line-2", None), (3, "c2", "noisy furnace"), (4, "c3", "drafty windows")]
    assert "never closed" in (items[0].error or "")


def test_a_quote_closed_in_the_wrong_place_is_reported_too(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,problem\nc1,"leaking\nc2,noisy furnace\nc3,"drafty" windows\nc4,"two\nlines"\n',
                    encoding="utf-8")
    items = read_items(path)
    assert [(i.line, i.key, i.error is None) for i in items] == [
        (2, "line-2", False), (3, "c2", True), (4, "line-4", False), (5, "c4", True)]
    assert items[3].problem == "two\nlines"  # a quoted field over two lines is still one problem


def test_batch_records_the_bad_row_and_solves_the_others(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('id,problem\nc1,"leaking basement on budget\nc2,noisy furnace\nc3,drafty windows\n',
                      encoding="utf-8")
    done = invoke_drain("batch", str(source), "--backend", "fake", "--depth", "1", env=_env(tmp_path / "home"))
    assert done.returncode == 5, done.stderr
    stderr = done.stderr.decode()
    assert "line 2: not valid CSV (a quoted field starts on this line and is never closed)" in stderr
    records = {r["id"]: r for r in _records(tmp_path / "in.results.jsonl")}
    assert set(records) == {"line-2", "c2", "c3"}
    assert records["line-2"]["line"] == 2 and "never closed" in records["line-2"]["error"]
    assert records["c2"]["result"]["problem"] == "noisy furnace"
    assert records["c3"]["result"]["problem"] == "drafty windows"


@pytest.mark.parametrize(("name", "text"), [("empty.csv", ""), ("header.csv", "id,problem\n"),
                                            ("blank.jsonl", "\n\n"), ("empty.txt", "")])
def test_no_problems_found_is_exit_2(tmp_path: Path, name: str, text: str) -> None:
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    done = invoke_drain("batch", str(source), "--backend", "fake", env=_env(tmp_path / "home"))
    assert done.returncode == 2
    assert done.stderr.decode() == f"drain: error: no problems found in {source} (it is empty, or a CSV with a " \
                                   "header only)\n"
    assert not (tmp_path / f"{source.stem}.results.jsonl").exists()


# ------------------------------------------------------------------------------------------------ circuit breaker
def test_the_breaker_stops_after_failures_in_a_row_and_bad_texts_do_not_count() -> None:
    calls: list[str] = []

    async def solve(problem: str) -> Any:
        calls.append(problem)
        await asyncio.sleep(0)
        if problem == "not english":
            raise InputError("the problem does not look like English")
        raise BackendError("the model server answered 500")

    items = [BatchItem(n, f"id{n}", "not english" if n < 4 else "fine") for n in range(1, 21)]
    written: list[dict[str, Any]] = []
    with pytest.raises(Exception, match="stopped after 3 problems in a row failed") as raised:
        asyncio.run(run_batch(items, solve, written.append, concurrency=1, max_consecutive_failures=3))
    assert type(raised.value).__name__ == "BatchStoppedError" and raised.value.exit_code == 4
    assert len(calls) == 6  # three bad texts (not the server's fault), then three server failures
    assert [r["id"] for r in written] == [f"id{n}" for n in range(1, 21)]  # every problem has a record
    left = [r for r in written if r.get("not_attempted")]
    assert [r["id"] for r in left] == [f"id{n}" for n in range(7, 21)]
    assert all("not attempted" in r["error"] and r["line"] for r in left)


class _FailingServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that lists its model and answers 500 to every completion."""

    completions = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).completions += 1
        self._send(500, {"error": {"message": "the GPU fell over", "type": "server_error"}})


@pytest.fixture
def failing_server() -> Iterator[str]:
    _FailingServer.completions = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_batch_against_a_server_that_fails_every_request_stops_and_a_rerun_resumes(
        tmp_path: Path, failing_server: str) -> None:
    home = tmp_path / "home"
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"p{n:02d}", "problem": f"{PROBLEMS[n % len(PROBLEMS)]} ({n})"})
                              + "\n" for n in range(12)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = invoke_drain("batch", str(source), "-o", str(out), "--backend", "openai", "--base-url", failing_server,
                        "--model", "m", "--concurrency", "1", "--depth", "1", "--max-consecutive-failures", "3",
                        "--quiet", env=_env(home))
    assert done.returncode == 4, done.stderr
    error = [line for line in done.stderr.decode().splitlines() if line.startswith("drain: error:")]
    assert len(error) == 1 and "stopped after 3 problems in a row failed" in error[0]
    assert "9 problems were not attempted" in error[0] and "run the same command again" in error[0]
    records = _records(out)
    assert len(records) == 12 and len({r["id"] for r in records}) == 12
    failed = [r for r in records if "error" in r and not r.get("not_attempted")]
    left = [r for r in records if r.get("not_attempted")]
    assert len(failed) == 3 and len(left) == 9 and "500" in failed[0]["error"]
    asked = _FailingServer.completions
    assert 3 <= asked <= 3 * 3 * 4  # three problems' first level (three calls), a few retries each; then nothing

    rerun = invoke_drain("batch", str(source), "-o", str(out), "--backend", "fake", "--depth", "1", "--quiet",
                         env=_env(home))
    assert rerun.returncode == 5, rerun.stderr  # the three that failed stay failed (--retry-errors retries them)
    assert b"9 problems a stopped batch did not attempt are solved now" in rerun.stderr
    records = _records(out)
    assert len(records) == 12 and len({r["id"] for r in records}) == 12
    assert sum("result" in r for r in records) == 9 and not any(r.get("not_attempted") for r in records)
    assert _FailingServer.completions == asked
