"""The server side of DRAIN on the phone: `drain device export`, the bundle `drain serve` hands phones
(/device/), the cross-origin isolation headers, and the runs a phone solved itself (POST /v1/runs/device)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from drain.backends.fake import FakeBackend
from drain.device.bundle import DeviceBundle
from drain.device.export import DATA_FILE, VECTORS_FILE, build_export
from drain.store import Store
from tests.helpers import run_drain

TINY_GGUF = b"GGUF" + bytes(60)  # stands for a model file: the bundle only lists and sends it


@pytest.fixture(scope="module")
def export_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    phone = folder.parent / "phone.gguf"
    phone.write_bytes(TINY_GGUF)
    done = run_drain("device", "export", str(folder), "--phone-model", str(phone))
    assert done.returncode == 0, done.stderr.decode()
    assert "drain-device.json" in done.stdout.decode() and "digest" in done.stdout.decode()
    return folder


def test_export_writes_versioned_data_vectors_and_links_the_model(export_files: Path) -> None:
    data = json.loads((export_files / DATA_FILE).read_text(encoding="utf-8"))
    assert data["format"] == 3 and data["schema_version"] == 2 and len(data["digest"]) == 16
    index = data["index"]
    assert (export_files / VECTORS_FILE).stat().st_size == 2 * index["rows"] * index["dimension"]
    assert len(data["parameters"]) == 39 and len(data["principles"]) == 40
    assert any(cell[:2] == [30, 32] for cell in data["matrix"])
    assert {rule["category"] for rule in data["hazard_rules"]} >= {"gas", "electrical", "structural"}
    assert data["house"]["families"] and data["house"]["cards"] and data["house"]["cases"]
    assert set(data["steps"]) >= {"frame", "contradict", "resolve", "reask", "placeholders"}
    assert "{% block system %}" in data["steps"]["frame"]["template"]
    assert (export_files / "drain-phone.gguf").read_bytes() == TINY_GGUF
    assert build_export().digest == data["digest"]  # the same data gives the same digest


@pytest.mark.parametrize(("args", "message"), [
    (["--phone-model", "/nonexistent/model.gguf"], "not a GGUF file"),
    (["--phone-model", "pyproject.toml"], "not a GGUF file"),
])
def test_export_refuses_a_bad_model_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_drain("device", "export", str(tmp_path / "out"), *args)
    err = done.stderr.decode()
    assert done.returncode == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_export_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("mine", encoding="utf-8")
    done = run_drain("device", "export", str(target))
    assert done.returncode == 2 and "is a file" in done.stderr.decode()
    assert target.read_text(encoding="utf-8") == "mine"  # nothing the user had is lost


@pytest.fixture
def client(tmp_path: Path, export_files: Path) -> Iterator[TestClient]:
    from drain.serve import create_app

    embed = tmp_path / "embed.gguf"
    embed.write_bytes(TINY_GGUF)
    bundle = DeviceBundle(export_files, embed_model=embed)
    with TestClient(create_app(lambda: FakeBackend(), store=Store(tmp_path / "runs.sqlite"), device=bundle)) as c:
        yield c


def test_the_manifest_lists_the_bundle_with_sizes(client: TestClient, export_files: Path) -> None:
    manifest = client.get("/device/manifest.json").json()
    names = [f["name"] for f in manifest["files"]]
    assert names == ["drain-device.json", "drain-vectors.f16", "drain-embed.gguf", "drain-phone.gguf"]
    assert manifest["ready"] is True
    assert manifest["total_bytes"] == sum(f["bytes"] for f in manifest["files"])
    sizes = {f["name"]: f["bytes"] for f in manifest["files"]}
    assert sizes["drain-device.json"] == (export_files / DATA_FILE).stat().st_size
    for item in manifest["files"]:
        response = client.get(item["url"])
        assert response.status_code == 200 and len(response.content) == item["bytes"], item["name"]


def test_a_bundle_without_the_phone_model_says_so(tmp_path: Path) -> None:
    from drain.serve import create_app

    embed = tmp_path / "embed.gguf"
    embed.write_bytes(TINY_GGUF)
    app = create_app(lambda: FakeBackend(), store=Store(tmp_path / "runs.sqlite"),
                     device=DeviceBundle(tmp_path / "empty", embed_model=embed))
    with TestClient(app) as client:
        manifest = client.get("/device/manifest.json").json()
        assert manifest["ready"] is False
        assert [f["name"] for f in manifest["files"] if f.get("missing")] == ["drain-phone.gguf"]
        data = client.get("/device/drain-device.json")  # built from the shipped data when none was exported
        assert data.status_code == 200 and json.loads(data.content)["digest"] == build_export().digest
        missing = client.get("/device/drain-phone.gguf")
        assert missing.status_code == 404 and "drain-phone.gguf" in missing.json()["message"]


@pytest.mark.parametrize("path", ["/device/../pyproject.toml", "/device/%2e%2e%2fpyproject.toml", "/device/sw.js",
                                  "/device/drain-phone.gguf.check.json", "/device/"])
def test_only_the_bundles_own_files_are_sent(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and "[project]" not in response.text


def test_the_app_is_cross_origin_isolated_and_may_compile_wasm(client: TestClient) -> None:
    for path in ("/", "/static/app.js", "/static/vendor/wllama/wllama.js", "/device/manifest.json"):
        headers = client.get(path).headers
        assert headers["cross-origin-opener-policy"] == "same-origin", path
        assert headers["cross-origin-embedder-policy"] == "require-corp", path
    csp = client.get("/").headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in csp and "'unsafe-eval'" not in csp and "worker-src 'self' blob:" in csp
    wasm = client.get("/static/vendor/wllama/wllama.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"


def _device_tree() -> dict:
    from drain.planner import Planner

    return Planner(FakeBackend(), log=False).solve("leaking basement on budget").model_dump(mode="json")


def test_a_phones_run_is_stored_once_and_takes_its_offline_votes(client: TestClient) -> None:
    tree = _device_tree()
    exchange = {"step": "frame", "messages": [{"role": "system", "content": "You are DRAIN."},
                                              {"role": "user", "content": 'Problem: "leaking basement on budget"'}],
                "schema": {"type": "object"}, "reply": '{"restated": "A wet basement."}', "valid": True,
                "error": None, "attempt": 1, "prompt_tokens": 40, "completion_tokens": 12, "seconds": 0.8,
                "started_at": 1_790_000_000.0}
    body = {"id": "d-00112233445566ff", "problem": "leaking basement on budget", "tree": tree,
            "model": "drain-phone.gguf", "exchanges": [exchange]}
    assert len(json.dumps(body)) > 16384  # bigger than any other request may be: this route has its own limit
    first = client.post("/v1/runs/device", json=body)
    assert first.status_code == 201 and first.json() == {"ok": True, "run": body["id"], "new": True}
    again = client.post("/v1/runs/device", json=body)
    assert again.status_code == 201 and again.json()["new"] is False
    run = client.get(f"/v1/runs/{body['id']}").json()
    assert run["source"] == "device" and run["backend"] == "device" and run["model"] == "drain-phone.gguf"
    assert run["tree"]["contradictions"] == tree["contradictions"]
    logged = client.app.state.drain.runs.store.exchanges(body["id"])
    assert len(logged) == 1 and logged[0]["step"] == "frame" and logged[0]["model"] == "drain-phone.gguf"
    assert json.loads(logged[0]["messages_json"]) == exchange["messages"] and logged[0]["valid"] == 1
    votes = client.post("/v1/feedback/batch", json={"votes": [
        {"run": body["id"], "idea": 1, "rating": "up", "client_event_id": "v-0011223344556677"}]}).json()
    assert votes["saved"] == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"tree": {"problem": "x", "contradictions": "none"}}, "tree"),
    ({"tree": {"problem": "x", "surprise": 1}}, "tree"),
    ({"id": "not-a-device-id"}, "id"),
    ({"problem": ""}, "problem"),
    ({"exchanges": [{"step": "deepen", "messages": [], "schema": {}, "reply": "", "valid": True, "attempt": 1,
                     "started_at": 0}]}, "exchanges"),
])
def test_a_bad_phone_run_is_refused_naming_the_field(client: TestClient, change: dict, field: str) -> None:
    body = {"id": "d-00112233445566aa", "problem": "leaking basement on budget", "tree": {"problem": "x"}, **change}
    response = client.post("/v1/runs/device", json=body)
    assert response.status_code == 422 and response.json()["field"].startswith(field), response.json()
    assert client.get("/v1/runs/d-00112233445566aa").status_code == 404


def test_body_limits_stay_for_every_other_route(client: TestClient) -> None:
    big = {"problem": "leak " * 5000}
    assert client.post("/v1/solve", json=big).status_code == 413
    huge = {"id": "d-00112233445566bb", "problem": "leak", "tree": {"problem": "x" * 600_000}}
    assert client.post("/v1/runs/device", json=huge).status_code == 413
