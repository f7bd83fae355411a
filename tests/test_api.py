"""The HTTP API (``drain.serve``): every endpoint, the event stream, and the hardening around them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from drain.backends.fake import FakeBackend
from drain.errors import BackendError, DrainError
from drain.planner import PlannerSettings
from drain.serve import create_app
from drain.serve.hardening import RedactSecrets
from drain.store import Store
from tests.helpers import ROOT, invoke_drain

GAS = "I smell gas near the stove and the basement leaks"
BASEMENT = "leaking basement on budget"


class SlowBackend(FakeBackend):
    """A fake model that takes ``delay`` seconds per answer."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.calls = 0

    async def complete(self, messages: Any, **kwargs: Any) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return await super().complete(messages, **kwargs)


class BrokenBackend(FakeBackend):
    """A fake model that fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def complete(self, messages: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "runs.sqlite")


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: FakeBackend(), store=store)) as test_client:
        yield test_client


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a server-sent event stream."""
    events = []
    for block in text.split("\n\n"):
        kind, data = "message", []
        for line in block.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((kind, json.loads("\n".join(data))))
    return events


def assert_clean_error(response: httpx.Response) -> dict[str, Any]:
    """An error body in the one shape, with no traceback and no file path."""
    body = response.json()
    assert set(body) >= {"error", "message"}
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    assert "/home/" not in text and "/tmp/" not in text and str(ROOT) not in text
    return body


# ------------------------------------------------------------------------------------------------ solve
def test_solve_returns_the_contract_with_a_run_id(client: TestClient, store: Store) -> None:
    response = client.post("/v1/solve", json={"problem": GAS})
    assert response.status_code == 200
    tree = response.json()
    assert {"problem", "ideal_final_result", "hazards", "contradictions", "subproblems", "stats"} <= set(tree)
    assert tree["hazards"][0]["category"] == "gas" and tree["hazards"][0]["severity"] == "stop"
    assert tree["contradictions"][0]["principles"] and tree["contradictions"][0]["ideas"]
    run = store.get_run(tree["run_id"])
    assert run["source"] == "api" and run["status"] in ("ok", "partial")
    assert store.exchanges(tree["run_id"])  # model exchanges are logged as the CLI logs them
    assert json.loads(run["tree_json"])["problem"] == GAS


def test_solve_overrides_depth_max_calls_and_seed(client: TestClient) -> None:
    tree = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1, "max_calls": 5, "seed": 7}).json()
    assert tree["subproblems"] == []
    assert tree["settings"]["depth"] == 1 and tree["settings"]["max_calls"] == 5 and tree["settings"]["seed"] == 7
    assert tree["stats"]["llm_calls"] <= 5


def test_every_request_gets_its_own_planner_on_one_shared_backend(store: Store) -> None:
    made: list[FakeBackend] = []

    def factory() -> FakeBackend:
        made.append(FakeBackend())
        return made[-1]

    with TestClient(create_app(factory, store=store)) as client:
        first = client.post("/v1/solve", json={"problem": BASEMENT}).json()
        second = client.post("/v1/solve", json={"problem": GAS}).json()
    assert len(made) == 1 and len(made[0].requests) > 0
    assert first["run_id"] != second["run_id"]


def test_stream_sends_start_levels_trees_then_result(client: TestClient, store: Store) -> None:
    with client.stream("POST", "/v1/solve/stream", json={"problem": GAS}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "result"
    middle = kinds[1:-1]
    assert middle and middle == ["level", "tree"] * (len(middle) // 2)
    start = events[0][1]
    assert start["problem"] == GAS and start["hazards"][0]["category"] == "gas" and start["run_id"]
    levels = [data["level"] for kind, data in events if kind == "level"]
    assert levels == list(range(1, len(levels) + 1))
    snapshots = [data["tree"] for kind, data in events if kind == "tree"]
    assert len(snapshots[-1]["contradictions"][0]["ideas"]) >= len(snapshots[0]["contradictions"][0]["ideas"])
    result = events[-1][1]
    assert result["run_id"] == start["run_id"]
    assert result == json.loads(json.dumps(store.get_tree(result["run_id"]).model_dump(mode="json")))


def test_stream_timeout_is_an_error_event_and_frees_the_slot(store: Store) -> None:
    app = create_app(lambda: SlowBackend(0.5), store=store, request_timeout=0.3)
    with TestClient(app) as client, client.stream("POST", "/v1/solve/stream", json={"problem": BASEMENT}) as response:
        events = parse_sse(response.read().decode())
    assert events[0][0] == "start"
    assert events[-1] == ("error", {"error": "timeout", "message": events[-1][1]["message"], "status": 504})
    assert app.state.drain.active == 0


# ------------------------------------------------------------------------------------------------ runs
def test_runs_list_and_detail(client: TestClient) -> None:
    tree = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}).json()
    runs = client.get("/v1/runs").json()["runs"]
    assert runs[0]["id"] == tree["run_id"] and runs[0]["problem"] == BASEMENT and runs[0]["source"] == "api"
    assert "tree_json" not in runs[0]
    assert len(client.get("/v1/runs", params={"limit": 1}).json()["runs"]) == 1
    detail = client.get(f"/v1/runs/{tree['run_id']}").json()
    assert detail["tree"] == tree and detail["settings"]["depth"] == 1 and detail["votes"] == []
    assert client.get(f"/v1/runs/{tree['run_id'][:6]}").json()["id"] == tree["run_id"]  # a unique prefix
    missing = client.get("/v1/runs/ffffffffffff")
    assert missing.status_code == 404 and assert_clean_error(missing)["error"] == "not_found"
    bad = client.get("/v1/runs/no!such")
    assert bad.status_code == 422 and bad.json()["field"] == "run_id"
    assert client.get("/v1/runs", params={"limit": 0}).json()["field"] == "limit"


# ------------------------------------------------------------------------------------------------ feedback
def test_feedback_on_an_idea_is_stored(client: TestClient, store: Store) -> None:
    run_id = client.post("/v1/solve", json={"problem": BASEMENT}).json()["run_id"]
    response = client.post("/v1/feedback", json={"run": run_id, "idea": 2, "rating": "up", "note": "cheap"})
    assert response.status_code == 201 and response.json()["run"] == run_id
    [row] = store.feedback(run_id)
    assert (row["idea"], row["rating"], row["note"], row["source"]) == (2, "up", "cheap", "api")
    assert client.post("/v1/feedback", json={"run": run_id, "rating": "down"}).status_code == 201  # the whole run
    assert client.get(f"/v1/runs/{run_id}").json()["votes"][0]["idea"] == 2

    too_far = client.post("/v1/feedback", json={"run": run_id, "idea": 999, "rating": "up"})
    assert too_far.status_code == 422 and too_far.json()["field"] == "idea"
    wrong = client.post("/v1/feedback", json={"run": run_id, "idea": 1, "rating": "meh"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "rating"
    unknown = client.post("/v1/feedback", json={"run": "abcdef123456", "rating": "up"})
    assert unknown.status_code == 404 and assert_clean_error(unknown)["field"] == "run"


def test_feedback_batch_is_idempotent_and_one_bad_vote_fails_alone(client: TestClient, store: Store) -> None:
    run_id = client.post("/v1/solve", json={"problem": BASEMENT}).json()["run_id"]
    votes = [
        {"run": run_id, "idea": 1, "rating": "up", "client_event_id": "phone-0001"},
        {"run": run_id, "idea": 1, "rating": "sideways", "client_event_id": "phone-0002"},
        {"run": "0123456789ab", "idea": 1, "rating": "up", "client_event_id": "phone-0003"},
        {"run": run_id, "idea": 3, "rating": "down", "note": "too dear", "client_event_id": "phone-0004"},
        {"run": run_id, "rating": "up"},
        "not a vote",
    ]
    first = client.post("/v1/feedback/batch", json={"votes": votes})
    assert first.status_code == 200
    body = first.json()
    results = body["results"]
    assert [r["ok"] for r in results] == [True, False, False, True, False, False]
    assert (body["saved"], body["failed"]) == (2, 4)
    assert results[1]["status"] == 422 and results[1]["field"] == "rating"
    assert results[2]["status"] == 404 and results[2]["client_event_id"] == "phone-0003"
    assert results[4]["field"] == "client_event_id"
    again = client.post("/v1/feedback/batch", json={"votes": votes}).json()["results"]
    assert [r.get("feedback_id") for r in again] == [r.get("feedback_id") for r in results]
    rows = store.feedback(run_id)
    assert sorted((r["idea"], r["rating"], r["client_event_id"]) for r in rows) == [
        (1, "up", "phone-0001"), (3, "down", "phone-0004")]
    assert client.post("/v1/feedback/batch", json={"votes": {}}).json()["field"] == "votes"


# ------------------------------------------------------------------------------------------------ knowledge
def test_matrix_is_the_same_json_as_the_cli(client: TestClient) -> None:
    for improving, worsening in (("30", "32"), ("1", "2"), ("strength", "weight of moving object")):
        cli = json.loads(invoke_drain("matrix", improving, worsening, "--format", "json").stdout)
        assert client.get(f"/v1/matrix/{improving}/{worsening}").json() == cli
    unknown = client.get("/v1/matrix/1/40")
    assert unknown.status_code == 422 and "no parameter 40" in assert_clean_error(unknown)["message"]


def test_principle_is_the_same_json_as_the_cli(client: TestClient) -> None:
    cli = json.loads(invoke_drain("principle", "24", "--format", "json").stdout)
    assert client.get("/v1/principles/24").json() == cli
    assert client.get("/v1/principles/intermediary").json()["id"] == 24
    assert client.get("/v1/principles/41").status_code == 422


def test_healthz_and_openapi_docs(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["backend"] == {"backend": "fake", "model": "fake-model", "adapter": None}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/solve", "/v1/solve/stream", "/v1/runs", "/v1/runs/{run_id}", "/v1/feedback",
                 "/v1/feedback/batch", "/v1/matrix/{improving}/{worsening}", "/v1/principles/{ref}", "/healthz"):
        assert path in paths
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    assert "cdn" not in docs.text.lower()  # the reference renders from /openapi.json with local files only
    assert "script-src 'self' 'wasm-unsafe-eval';" in docs.headers["content-security-policy"]


# ------------------------------------------------------------------------------------------------ hardening
def test_a_body_over_the_limit_is_413(store: Store) -> None:
    with TestClient(create_app(lambda: FakeBackend(), store=store, max_body_bytes=1000)) as client:
        big = client.post("/v1/solve", json={"problem": "leak " * 400})
        assert big.status_code == 413 and assert_clean_error(big)["error"] == "too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
            yield b'{"problem": "'
            for _ in range(50):
                yield b"leak " * 10
            yield b'"}'

        streamed = client.post("/v1/solve", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "problem"),
        ({"problem": BASEMENT, "depth": 9}, "depth"),
        ({"problem": BASEMENT, "max_calls": 0}, "max_calls"),
        ({"problem": BASEMENT, "colour": "red"}, "colour"),
        ({"problem": 42}, "problem"),
        ({"problem": "   "}, "problem"),
        ({"problem": "leak " * 1000}, "problem"),  # over the problem limit, under the body limit
    ],
)
def test_validation_errors_are_422_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/v1/solve", json=body)
    assert response.status_code == 422
    data = assert_clean_error(response)
    assert data["field"] == field and data["message"].startswith(f"{field}: ")


def test_invalid_json_is_422(client: TestClient) -> None:
    response = client.post("/v1/solve", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422 and assert_clean_error(response)["field"] == "body"


async def test_a_saturated_server_answers_503(store: Store) -> None:
    backend = SlowBackend(0.1)
    app = create_app(lambda: backend, store=store, max_concurrent_solves=1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://drain.test") as client:
        first = asyncio.create_task(client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}))
        while backend.calls == 0:
            assert not first.done(), f"the first solve ended before it reached the model: {(await first).text}"
            await asyncio.sleep(0.01)
        busy = await client.post("/v1/solve", json={"problem": GAS})
        assert busy.status_code == 503 and busy.headers["retry-after"]
        assert assert_clean_error(busy)["error"] == "busy"
        assert (await client.post("/v1/solve/stream", json={"problem": GAS})).status_code == 503
        assert (await first).status_code == 200
        assert app.state.drain.active == 0
        assert (await client.post("/v1/solve", json={"problem": GAS, "depth": 1})).status_code == 200


def test_a_slow_solve_is_504_and_recorded(store: Store) -> None:
    app = create_app(lambda: SlowBackend(0.5), store=store, request_timeout=0.3)
    with TestClient(app) as client:
        response = client.post("/v1/solve", json={"problem": BASEMENT})
        assert response.status_code == 504 and assert_clean_error(response)["error"] == "timeout"
        time.sleep(0.1)
        [listed] = client.get("/v1/runs").json()["runs"]
        run = client.get(f"/v1/runs/{listed['id']}").json()
    assert run["status"] == "error" and "cancelled" in run["error"].lower() and run["tree"] is None
    assert app.state.drain.active == 0


def test_errors_never_show_a_traceback_or_a_path(store: Store) -> None:
    crash = create_app(lambda: BrokenBackend(RuntimeError("boom in /home/someone/secret/file.py")), store=store)
    with TestClient(crash, raise_server_exceptions=False) as client:
        response = client.post("/v1/solve", json={"problem": BASEMENT})
        assert response.status_code == 500
        assert assert_clean_error(response) == {"error": "internal",
                                                "message": "internal error; the server log has the details"}
        assert "boom" not in response.text
        events = parse_sse(client.post("/v1/solve/stream", json={"problem": BASEMENT}).text)
        assert events[-1][0] == "error" and events[-1][1]["status"] == 500 and "boom" not in json.dumps(events)
    down = create_app(lambda: BrokenBackend(BackendError("could not load /opt/models/tiny.gguf: bad magic")),
                      store=store)
    with TestClient(down) as client:
        response = client.post("/v1/solve", json={"problem": BASEMENT})
        assert response.status_code == 503
        assert assert_clean_error(response)["message"] == "could not load tiny.gguf: bad magic"
        assert "/opt/models" not in client.get("/v1/runs").text
        assert client.get("/nowhere").json() == {"error": "not_found", "message": "Not Found"}
    odd = create_app(lambda: BrokenBackend(DrainError("the planner gave up")), store=store)
    with TestClient(odd) as client:
        response = client.post("/v1/solve", json={"problem": BASEMENT})
        assert response.status_code == 400
        assert assert_clean_error(response) == {"error": "bad_request", "message": "the planner gave up"}
    with TestClient(down) as client:
        assert client.delete("/v1/solve").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2F..%2Fapp.py",
        "/static/%2e%2e/%2e%2e/store.py",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/..\\..\\app.py",
        "/static/app.py",
        "/static/",
    ],
)
def test_static_files_cannot_escape_their_folder(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text and "root:" not in response.text and "[project]" not in response.text


def test_the_page_and_its_assets_are_served_with_security_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<textarea id="problem"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self' 'wasm-unsafe-eval';" in csp and "unsafe-inline" not in csp
    assert "http" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    for path, kind in (("/static/app.js", "text/javascript"), ("/static/render.js", "text/javascript"),
                       ("/static/app.css", "text/css"),
                       ("/manifest.webmanifest", "application/manifest+json"), ("/sw.js", "text/javascript"),
                       ("/static/icon.svg", "image/svg+xml"), ("/static/icon-192.png", "image/png")):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind), path
    manifest = client.get("/manifest.webmanifest").json()
    assert manifest["start_url"] == "/" and {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    assert client.get("/v1/runs").headers["cache-control"] == "no-store"
    for name in ("index.html", "app.js", "render.js", "app.css", "sw.js"):  # all local: no CDN, no web fonts
        text = client.get(f"/static/{name}").text
        assert "http://" not in text and "https://" not in text and "innerHTML" not in text


def test_cors_is_closed_unless_origins_are_given(client: TestClient, store: Store) -> None:
    origin = {"origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/v1/runs", headers=origin).headers
    preflight = client.options("/v1/solve", headers={**origin, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    app = create_app(lambda: FakeBackend(), store=store, cors_origins=("https://app.example",))
    with TestClient(app) as open_client:
        allowed = open_client.get("/v1/runs", headers={"origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in open_client.get("/v1/runs", headers=origin).headers


def test_secrets_are_redacted_from_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("drain.test.redact")
    logger.addFilter(RedactSecrets(["sk-very-secret", None, ""]))
    with caplog.at_level(logging.INFO, logger="drain.test.redact"):
        logger.info("calling %s with key %s", "http://llm:8000/v1", "sk-very-secret")
    assert "sk-very-secret" not in caplog.text and "[redacted]" in caplog.text


def test_settings_must_be_sane() -> None:
    with pytest.raises(DrainError):
        create_app(lambda: FakeBackend(), max_concurrent_solves=0)
    app = create_app(lambda: FakeBackend(), settings=PlannerSettings(depth=1))
    assert app.state.drain.settings.depth == 1


# ------------------------------------------------------------------------------------------------ real server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """``app`` on a real uvicorn server in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_a_client_that_leaves_mid_stream_frees_its_slot(store: Store) -> None:
    app = create_app(lambda: SlowBackend(0.3), store=store, max_concurrent_solves=1)
    with running(app) as base:
        with httpx.Client(base_url=base, timeout=10) as client, client.stream(
                "POST", "/v1/solve/stream", json={"problem": BASEMENT}) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(lines) == "event: start"
            assert httpx.get(f"{base}/healthz").json()["solving"] == 1
        # the client is gone: the solve is cancelled and its slot is free for the next one
        assert wait_until(lambda: httpx.get(f"{base}/healthz").json()["solving"] == 0)
        run_id = store.list_runs(1)[0]["id"]
        assert wait_until(lambda: store.get_run(run_id)["status"] == "error")
        assert "cancelled" in store.get_run(run_id)["error"].lower()
        assert httpx.post(f"{base}/v1/solve", json={"problem": GAS, "depth": 1}, timeout=30).status_code == 200


def wait_until(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ------------------------------------------------------------------------------------------------ drain serve


def test_drain_serve_runs_uvicorn_and_keeps_the_api_key_out_of_its_log(tmp_path: Path) -> None:
    port = _free_port()
    secret = "sk-serve-test-0123456789"
    env = {**os.environ, "DRAIN_HOME": str(tmp_path), "DRAIN_API_KEY": secret}
    process = subprocess.Popen([sys.executable, "-m", "drain", "serve", "--backend", "fake", "--port", str(port),
                                "--depth", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "drain serve did not start"
            time.sleep(0.2)
        tree = httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT}, timeout=30).json()
        assert tree["settings"]["depth"] == 1 and tree["run_id"]
        assert httpx.get(f"{base}/", timeout=5).status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    text = output.decode()
    assert f"127.0.0.1:{port}" in text and "/v1/solve" in text  # the start line and the access log
    assert secret not in text


def test_drain_serve_help_lists_the_solve_options() -> None:
    done = invoke_drain("serve", "--help")
    assert done.returncode == 0
    text = done.stdout.decode()
    for option in ("--host", "--port", "--backend", "--base-url", "--api-key", "--depth", "--max-calls",
                   "--max-solves", "--timeout", "--cors-origin"):
        assert option in text


def test_a_chosen_family_leads_and_an_unknown_one_is_a_422(client: TestClient) -> None:
    chosen = client.post("/v1/solve", json={"problem": "water on the floor after storms", "depth": 1,
                                            "family": "sump-pump-trouble"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["families"][0]["id"] == "sump-pump-trouble" and chosen.json()["clarify"] is None
    unknown = client.post("/v1/solve", json={"problem": "water on the floor", "family": "no-such-family"})
    assert unknown.status_code == 422 and "no-such-family" in unknown.json()["message"]
    malformed = client.post("/v1/solve", json={"problem": "water on the floor", "family": "Not An Id"})
    assert malformed.status_code == 422 and malformed.json()["field"] == "family"


def test_strict_numbers_in_a_solve_request(client: TestClient) -> None:
    response = client.post("/v1/solve", json={"problem": "noisy furnace", "depth": True})
    assert response.status_code == 422 and response.json()["field"] == "depth"
