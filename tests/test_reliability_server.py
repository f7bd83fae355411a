"""The API server under stress and attack: timeouts that stop the work, the access token, Host checks,
rate limits, slow clients, a busy or damaged store, the model loaded before solves, and no internal
address in an error. Real uvicorn servers on loopback, real SQLite files and real second processes."""

from __future__ import annotations

import asyncio
import json
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
from drain.errors import BackendUnavailableError
from drain.serve import create_app
from drain.store import Store
from tests.helpers import ROOT, run_drain

BASEMENT = "leaking basement on budget"
LONG_BASEMENT = (  # a homeowner who writes it all down
    'Our basement leaks every time it rains hard and we are on a tight budget. The house was built in '
    '1962 with a poured concrete foundation. Water shows up first along the back wall, under the kitchen,'
    ' as a dark damp patch that spreads from a thin vertical crack near a tie-rod hole, and after a long '
    'storm a puddle forms where the wall meets the floor. The downspouts at that corner empty right next '
    'to the wall onto a splash block that has sunk, and the soil there seems flat or even slopes a little'
    ' toward the house. The sump pit in the laundry corner has an old pump that runs often in spring. We '
    'store boxes and a chest freezer down there and we would like to use the space as a playroom one day.'
    ' A contractor quoted us for digging out the whole back wall and sealing it from outside, which we '
    'cannot afford this year. We can do simple work ourselves on weekends, we own the house, and we would'
    ' like to know what to check first, what we could do now for little money, and what would last.'
)
TOKEN = "household-secret-0123"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(app: Any, **config: Any) -> Iterator[str]:
    """``app`` on a real uvicorn server in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_until(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def drain_serve(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real ``drain serve`` in a subprocess (fake model); yields its base URL and the process."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "drain", "serve", "--backend", "fake", "--port", str(port),
                                *args], cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "drain serve did not start"
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "runs.sqlite")


# ------------------------------------------------------------------------------------------------ timeouts
def test_a_timed_out_solve_is_504_at_the_limit_and_its_model_call_is_stopped(store: Store) -> None:
    backend = FakeBackend(delay=30.0)  # one model call would take 30 s
    app = create_app(lambda: backend, store=store, request_timeout=1.0)
    with running(app) as base:
        assert wait_until(lambda: httpx.get(f"{base}/healthz").json()["model"]["state"] == "ready", timeout=60)
        started = time.monotonic()
        response = httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT}, timeout=20)
        took = time.monotonic() - started
        assert response.status_code == 504 and response.json()["error"] == "timeout"
        assert took < 2.0, f"the 504 came {took:.1f} s after the request, the limit is 1 s"
        assert backend.in_flight == 0  # the model call was cancelled, not left running
        health = httpx.get(f"{base}/healthz").json()
        assert health["solving"] == 0 and health["solves"] == []
        run = store.list_runs(1)[0]
        assert wait_until(lambda: store.get_run(run["id"])["status"] == "error")
        backend.delay = 0.0
        assert httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT, "depth": 1}, timeout=20).status_code == 200


def test_healthz_says_what_is_solving_while_it_runs(store: Store) -> None:
    backend = FakeBackend(delay=0.5)
    app = create_app(lambda: backend, store=store, request_timeout=30)
    with running(app) as base:
        solving = threading.Thread(target=httpx.post, args=(f"{base}/v1/solve",),
                                   kwargs={"json": {"problem": BASEMENT, "depth": 1}, "timeout": 30})
        solving.start()
        assert wait_until(lambda: httpx.get(f"{base}/healthz").json()["solving"] == 1)
        [solve] = httpx.get(f"{base}/healthz").json()["solves"]
        assert solve["state"] == "solving" and solve["run_id"] and solve["seconds"] >= 0
        assert "problem" not in solve  # /healthz is open: it never shows what a household asked
        solving.join()
        assert httpx.get(f"{base}/healthz").json()["solving"] == 0


def test_a_client_that_leaves_the_stream_cancels_its_model_call(store: Store) -> None:
    backend = FakeBackend(delay=30.0)
    app = create_app(lambda: backend, store=store, max_concurrent_solves=1)
    with running(app) as base:
        with httpx.Client(base_url=base, timeout=10) as client, client.stream(
                "POST", "/v1/solve/stream", json={"problem": BASEMENT}) as response:
            lines = response.iter_lines()  # kept: a dropped iterator closes the stream
            assert next(lines) == "event: start"
            assert wait_until(lambda: backend.in_flight > 0)
        left = time.monotonic()
        assert wait_until(lambda: backend.in_flight == 0, timeout=5)
        assert wait_until(lambda: httpx.get(f"{base}/healthz").json()["solving"] == 0, timeout=5)
        assert time.monotonic() - left < 3.0
        backend.delay = 0.0
        assert httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT, "depth": 1}, timeout=20).status_code == 200


# ------------------------------------------------------------------------------------------------ the token
def test_the_v1_routes_need_the_token_and_the_page_stays_open(store: Store) -> None:
    with TestClient(create_app(lambda: FakeBackend(), store=store, token=TOKEN)) as client:
        for path in ("/v1/runs", "/v1/matrix/1/14", "/v1/nowhere"):
            missing = client.get(path)
            assert missing.status_code == 401 and missing.json()["error"] == "unauthorized", path
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert "missing" in missing.json()["message"] and TOKEN not in missing.text
        for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer"):
            wrong = client.get("/v1/runs", headers={"authorization": header})
            assert wrong.status_code == 401 and "not the right one" in wrong.json()["message"], header
        solve = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1})
        assert solve.status_code == 401 and store.list_runs() == []  # nothing solved, nothing stored
        good = {"authorization": f"Bearer {TOKEN}"}
        assert client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}, headers=good).status_code == 200
        assert client.get("/v1/runs", headers=good).status_code == 200
        assert client.get("/v1/runs", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200
        for path in ("/healthz", "/", "/static/app.js", "/sw.js", "/manifest.webmanifest", "/openapi.json"):
            assert client.get(path).status_code == 200, path


def test_drain_serve_takes_the_token_from_the_environment(tmp_path: Path) -> None:
    env = {"DRAIN_HOME": str(tmp_path), "DRAIN_SERVE_TOKEN": TOKEN}
    with drain_serve("--depth", "1", env=env) as (base, _):
        assert httpx.get(f"{base}/v1/runs").status_code == 401
        assert httpx.get(f"{base}/v1/runs", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_network_address_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    env = {"DRAIN_HOME": str(tmp_path), "DRAIN_SERVE_TOKEN": ""}
    done = run_drain("serve", "--backend", "fake", "--host", "0.0.0.0", "--port", str(_free_port()), env=env,
                     timeout=60)
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert stderr.count("\n") == 1 and "--token" in stderr and "--no-auth" in stderr and "network" in stderr
    short = run_drain("serve", "--backend", "fake", "--token", "abc", env=env, timeout=60)
    assert short.returncode == 2 and b"at least 8 characters" in short.stderr


def test_no_auth_serves_a_network_address_open_on_purpose(tmp_path: Path) -> None:
    with drain_serve("--host", "0.0.0.0", "--no-auth", env={"DRAIN_HOME": str(tmp_path),
                                                            "DRAIN_SERVE_TOKEN": ""}) as (base, _):
        assert httpx.get(f"{base}/v1/runs").status_code == 200


# ------------------------------------------------------------------------------------------------ Host header
def test_dns_rebinding_host_names_get_400(store: Store) -> None:
    from drain.serve.access import HostPolicy

    app = create_app(lambda: FakeBackend(), store=store, hosts=HostPolicy("127.0.0.1", ["drain.home.arpa"]))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/v1/runs").status_code == 200
        for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.9:8000", ""):
            refused = client.get("/v1/runs", headers={"host": host})
            assert refused.status_code == 400 and refused.json()["error"] == "bad_host", host
            assert client.get("/", headers={"host": host}).status_code == 400
        for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "drain.home.arpa", "DRAIN.home.arpa.:80",
                     "app.localhost"):
            assert client.get("/v1/runs", headers={"host": host}).status_code == 200, host


def test_drain_serve_checks_the_host_header(tmp_path: Path) -> None:
    env = {"DRAIN_HOME": str(tmp_path)}
    with drain_serve("--allowed-host", "drain.home.arpa", env=env) as (base, _):
        tree = httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT, "depth": 1}, timeout=30).json()
        rebound = httpx.get(f"{base}/v1/runs", headers={"host": "evil.example"})
        assert rebound.status_code == 400 and tree["run_id"] not in rebound.text
        assert httpx.get(f"{base}/v1/runs", headers={"host": "drain.home.arpa:8000"}).status_code == 200
        assert httpx.get(f"{base}/v1/runs").json()["runs"][0]["id"] == tree["run_id"]


# ------------------------------------------------------------------------------------------------ rate limit
async def test_solves_are_rate_limited_per_client(store: Store) -> None:
    app = create_app(lambda: FakeBackend(), store=store, solve_rate=6, solve_burst=2)
    first = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.7", 5000)),
                              base_url="http://drain.test")
    second = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.8", 5000)),
                               base_url="http://drain.test")
    body = {"problem": BASEMENT, "depth": 1, "max_calls": 2}
    async with first, second:
        assert [(await first.post("/v1/solve", json=body)).status_code for _ in range(2)] == [200, 200]
        limited = await first.post("/v1/solve", json=body)
        assert limited.status_code == 429 and limited.json()["error"] == "too_many_solves"
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert (await first.post("/v1/solve/stream", json=body)).status_code == 429
        assert (await first.get("/v1/runs")).status_code == 200  # reading is not limited
        assert (await second.post("/v1/solve", json=body)).status_code == 200  # another device is not


# ------------------------------------------------------------------------------------------------ slow clients
def _read_all(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    sock.settimeout(limit)
    started, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data, time.monotonic() - started


def test_a_client_that_never_finishes_its_headers_is_cut_off(store: Store) -> None:
    from drain.serve.protocol import header_deadline_protocol

    app = create_app(lambda: FakeBackend(), store=store)
    with running(app, http=header_deadline_protocol(1.0)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            data, took = _read_all(sock, 10)
        assert data.startswith(b"HTTP/1.1 408") and took < 3.0, (data, took)
        with socket.create_connection(("127.0.0.1", port)) as sock:  # a kept-alive connection, then a stall
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.3)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            data, took = _read_all(sock, 10)
        assert data.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in data and took < 3.0
        assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_body_that_never_arrives_is_408(store: Store) -> None:
    app = create_app(lambda: FakeBackend(), store=store, body_timeout=1.0)
    with running(app) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/solve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 200\r\n\r\n{\"problem\": \"leak")
            data, took = _read_all(sock, 10)
        assert data.startswith(b"HTTP/1.1 408") and b'"error":"timeout"' in data and took < 3.0, (data, took)
        assert store.list_runs() == []


# ------------------------------------------------------------------------------------------------ a busy store
@contextmanager
def write_locked(path: Path, seconds: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the write lock of the SQLite file at ``path``."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "db.execute(\"UPDATE runs SET source = source\")\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"), str(path), str(seconds)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_store_locked_by_another_process_gives_503_and_never_blocks_the_server(store: Store) -> None:
    run_id = store.start_run("noisy furnace", source="test")
    app = create_app(lambda: FakeBackend(), store=store)
    with running(app) as base, httpx.Client(base_url=base, timeout=8) as client:
        with write_locked(store.path):
            _while_locked(client, run_id)
        assert client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}).status_code == 200
        assert client.get("/healthz").json()["store"]["state"] == "ok"


def _while_locked(client: httpx.Client, run_id: str | None) -> None:
    """With the store locked: a solve is 503 within seconds, /healthz answers at once, reads still work."""
    answers: dict[str, Any] = {}

    def solve() -> None:
        started = time.monotonic()
        answers["solve"] = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1})
        answers["took"] = time.monotonic() - started

    solving = threading.Thread(target=solve)
    solving.start()
    time.sleep(0.3)  # the solve now waits for the lock
    started = time.monotonic()
    health = client.get("/healthz")
    assert health.status_code == 200 and time.monotonic() - started < 0.5  # not stuck behind the store
    solving.join()
    busy = answers["solve"]
    assert busy.status_code == 503 and busy.json()["error"] == "store_busy" and answers["took"] < 4.0
    assert int(busy.headers["retry-after"]) > 0
    assert client.get("/healthz").json()["store"]["state"] == "busy"
    vote = client.post("/v1/feedback", json={"run": run_id, "rating": "up"})
    assert vote.status_code == 503 and vote.headers["retry-after"]
    assert client.get("/v1/runs").status_code == 200  # readers are not blocked by a writer (WAL)


# ------------------------------------------------------------------------------------------------ a damaged store
def test_a_damaged_store_is_503_for_reads_and_said_on_healthz(tmp_path: Path) -> None:
    from tests.test_store_recovery import _filled_store, _junk_pages_of

    path = tmp_path / "runs.sqlite"
    _filled_store(path, runs=40)
    _junk_pages_of(path, "runs", share=0.5)
    _junk_pages_of(path, "sqlite_autoindex_runs_1", root=True)
    with TestClient(create_app(lambda: FakeBackend(), store=Store(path))) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["store"]["state"] == "damaged"
        assert "drain store repair" in health["store"]["message"]
        for response in (client.get("/v1/runs"), client.get("/v1/runs/abcdef"),
                         client.post("/v1/feedback", json={"run": "abcdef", "rating": "up"})):
            assert response.status_code == 503 and response.json()["error"] == "store_damaged"
            assert "drain store repair" in response.json()["message"] and str(tmp_path) not in response.text
        solved = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1})
        assert solved.status_code == 200 and solved.json()["run_id"] is None  # answered, not logged
        assert "not logged" in solved.headers["drain-warning"]


# ------------------------------------------------------------------------------------------------ small ones
class WarmingBackend(FakeBackend):
    """A fake model that takes ``seconds`` to load."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.warmed_at: float | None = None
        self.first_request_at: float | None = None

    async def warm_up(self) -> float:
        await asyncio.sleep(self.seconds)
        self.warmed_at = time.monotonic()
        return self.seconds

    async def complete(self, messages: Any, **kwargs: Any) -> Any:
        self.first_request_at = self.first_request_at or time.monotonic()
        return await super().complete(messages, **kwargs)


def test_the_model_loads_before_the_first_solve_and_healthz_says_so(store: Store) -> None:
    backend = WarmingBackend(1.5)
    with running(create_app(lambda: backend, store=store)) as base:
        assert httpx.get(f"{base}/healthz").json()["model"]["state"] == "loading"
        tree = httpx.post(f"{base}/v1/solve", json={"problem": BASEMENT, "depth": 1}, timeout=30)
        assert tree.status_code == 200
        assert backend.warmed_at is not None and backend.first_request_at is not None
        assert backend.first_request_at >= backend.warmed_at  # no solve raced the loading model
        assert httpx.get(f"{base}/healthz").json()["model"] == {"state": "ready"}


def test_a_reused_vote_id_with_the_opposite_rating_says_so(store: Store) -> None:
    with TestClient(create_app(lambda: FakeBackend(), store=store)) as client:
        run_id = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}).json()["run_id"]
        vote = {"run": run_id, "rating": "up", "client_event_id": "phone-0042"}
        assert client.post("/v1/feedback", json=vote).status_code == 201
        assert client.post("/v1/feedback", json=vote).status_code == 201  # the same vote again: fine
        flipped = client.post("/v1/feedback", json={**vote, "rating": "down"})
        assert flipped.status_code == 409 and flipped.json()["error"] == "conflict"
        assert "already used" in flipped.json()["message"] and flipped.json()["field"] == "client_event_id"
        batch = client.post("/v1/feedback/batch", json={"votes": [{**vote, "rating": "down"}, vote]}).json()
        assert [(r["ok"], r["status"]) for r in batch["results"]] == [(False, 409), (True, 200)]
        assert "not stored" in batch["results"][0]["message"]
    assert [f["rating"] for f in store.feedback(run_id)] == ["up"]


def test_a_503_never_shows_the_model_servers_address(store: Store) -> None:
    from drain.backends.openai import OpenAIBackend

    closed = _free_port()
    for make in (lambda: FakeBackend(lambda r: BackendUnavailableError(
                     "cannot reach the model server at http://10.1.2.3:8000/v1 (ConnectError)")),
                 lambda: OpenAIBackend(base_url=f"http://127.0.0.1:{closed}/v1", model="m")):
        with TestClient(create_app(make, store=store)) as client:
            response = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1})
            assert response.status_code == 503 and response.json()["error"] == "backend_unavailable"
            text = response.text + json.dumps(client.get("/healthz").json())
            assert "10.1.2.3" not in text and str(closed) not in text and "http://" not in text, text


def test_like_wildcards_do_not_open_a_run(store: Store) -> None:
    with TestClient(create_app(lambda: FakeBackend(), store=store)) as client:
        run_id = client.post("/v1/solve", json={"problem": BASEMENT, "depth": 1}).json()["run_id"]
        assert client.get("/v1/runs/____").status_code == 404
        assert client.get(f"/v1/runs/{run_id[:4]}").json()["id"] == run_id


# ------------------------------------------------------------------------------------------------ the real model
def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.model
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the server's CPU time from /proc")
def test_drain_serve_on_the_embedded_model_stops_a_timed_out_solve(tmp_path: Path) -> None:
    """The issue's case: `drain serve --timeout N` on the embedded model. The 504 comes at the limit, the
    abandoned solve's model call stops (the server's CPU is back under a tenth of a core within 4 s:
    llama.cpp stops at the next token, or after the prompt batch it is reading), /healthz said what was
    solving, and the next request succeeds. The solve is made long on any machine: a homeowner's full
    description (about 1,400 prompt tokens) on one thread takes 8-9 s here, the limit is 3 s."""
    pytest.importorskip("xllamacpp")
    from drain.backends.embedded import default_model_path
    from drain.errors import ModelNotFoundError

    try:
        default_model_path()
    except ModelNotFoundError as err:
        pytest.skip(str(err))
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "drain", "serve", "--port", str(port), "--timeout", "3",
                                "--threads", "1"],
                               cwd=ROOT, env={**os.environ, "DRAIN_HOME": str(tmp_path)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        # one look at /healthz: the server up and its model (and house library) loaded; two looks could
        # read "not up yet" (no model field) as ready and then find the server up but still loading
        assert wait_until(lambda: _health(base, process).get("model", {}).get("state") == "ready", timeout=120)
        seen: dict[str, Any] = {}

        def look() -> None:
            time.sleep(1.0)
            deadline = time.monotonic() + 1.8  # before the 3 s limit: the run is in the store by then
            while True:  # (its id comes with the store's answer, later on a busy machine)
                started = time.monotonic()
                seen["health"] = httpx.get(f"{base}/healthz", timeout=10).json()
                seen["took"] = time.monotonic() - started
                solves = seen["health"].get("solves") or [{}]
                if solves[0].get("run_id") or time.monotonic() > deadline:
                    return
                time.sleep(0.1)

        looking = threading.Thread(target=look)
        looking.start()
        started = time.monotonic()
        response = httpx.post(f"{base}/v1/solve", json={"problem": LONG_BASEMENT}, timeout=60)
        took = time.monotonic() - started
        looking.join()
        assert response.status_code == 504 and response.json()["error"] == "timeout", (took, response.text[:300])
        assert 3.0 <= took < 4.5, f"the 504 came after {took:.1f} s (limit 3 s)"
        assert seen["took"] < 1.0 and seen["health"]["solving"] == 1  # the server answered while it solved
        [solve] = seen["health"]["solves"]
        shares = []  # the server's CPU in half-second windows after the 504, until it is quiet
        while len(shares) < 8 and (not shares or shares[-1] >= 0.1):
            before = _cpu_seconds(process.pid)
            time.sleep(0.5)
            shares.append((_cpu_seconds(process.pid) - before) / 0.5)
        assert shares[-1] < 0.1, f"the server's CPU after the 504 (share of a core, per 0.5 s): {shares}"
        assert httpx.get(f"{base}/healthz").json()["solving"] == 0
        run_id = solve["run_id"] or next(  # on a busy machine the look came before the run was stored
            r["id"] for r in httpx.get(f"{base}/v1/runs").json()["runs"] if r["problem"] == LONG_BASEMENT)
        run = httpx.get(f"{base}/v1/runs/{run_id}").json()
        assert run.get("status") == "error" and "cancelled" in run["error"].lower(), run
        quick = httpx.post(f"{base}/v1/solve", json={"problem": "noisy furnace", "depth": 1, "max_calls": 1},
                           timeout=60)
        assert quick.status_code == 200 and quick.json()["stats"]["llm_calls"] == 1
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _health(base: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert process.poll() is None, "drain serve stopped"
    try:
        return dict(httpx.get(f"{base}/healthz", timeout=2).json())
    except httpx.TransportError:
        return {}
