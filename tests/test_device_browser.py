"""DRAIN on the phone itself, in headless Debian chromium with mobile emulation (issue 13): the real phone
model and the real embedding model run in the page through wllama (llama.cpp in WebAssembly).

At 390x844: first visit online, wait for "ready offline", cut the network, solve "leaking basement on
budget" on the phone (every contradiction's principles are its matrix cell's), vote, come back online and
find the vote in SQLite on the run the phone solved. At 360x740: first visit, cut the network, solve a gas
problem: the stop hazard shows first, while the phone is still thinking; that solve runs in a page
reloaded with no network (the service worker's shell, the bundle from Cache Storage). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drain.adapters import shipped_adapter
from drain.store import Store
from tests.device_page import CHROMIUM, DeviceServer, make_bundle, phone_browser, solve_here, until
from tests.helpers import HAS_MODEL, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.model,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
              pytest.mark.skipif(not HAS_MODEL or shipped_adapter() is None, reason="needs the model and adapter")]

ARTIFACTS = ROOT / "test-artifacts"
READY = "document.body.dataset.offlineReady === 'true' || document.body.dataset.offlineReady === 'false'"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DeviceServer, Store]]:
    folder = make_bundle(tmp_path_factory.mktemp("bundle"))
    store = Store(tmp_path_factory.mktemp("store") / "runs.sqlite")
    with DeviceServer(store, folder) as server:
        yield server, store


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


def first_visit(context: Any, url: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + "/")
    assert until(page, READY, 600) and page.evaluate("document.body.dataset.offlineReady") == "true", \
        page.locator("#offline-status").text_content()
    assert "Ready offline" in page.locator("#offline-status").text_content()
    assert until(page, "navigator.serviceWorker.controller !== null", 30)  # the shell is cached for next time
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def cut_network(context: Any, page: Any) -> None:
    context.set_offline(True)
    assert until(page, "navigator.onLine === false", 10)


def test_offline_solve_vote_and_sync_at_390x844(served: tuple[DeviceServer, Store], playwright: Any,
                                                tmp_path: Path) -> None:
    import triz

    server, store = served
    knowledge = triz.load()
    with phone_browser(playwright, tmp_path / "profile", "390x844") as context:
        page = first_visit(context, server.url)
        assert page.evaluate("crossOriginIsolated") is True  # drain serve sends COOP/COEP
        page.select_option("#engine", "server")  # online, the homeowner may choose the server
        page.fill("#problem", "leaking basement on budget")
        page.click("#solve")
        assert until(page, "document.querySelector('#status').textContent.startsWith('Done:')", 60)
        assert page.get_attribute("#result", "data-engine") == "server"
        page.select_option("#engine", "auto")  # automatic: the phone answers once offline
        cut_network(context, page)
        solve_here(page, "leaking basement on budget")
        status = page.locator("#status").text_content()
        assert "Solved on this phone" in status, status
        assert page.get_attribute("#result", "data-engine") == "device"
        cells = page.eval_on_selector_all(
            "[data-cell]", "els => els.map(e => [e.dataset.cell, [...e.querySelectorAll(':scope > ul.principles > "
            "li[data-principle]')].map(p => Number(p.dataset.principle))])")
        assert cells
        for cell, principles in cells:
            improving, worsening = (int(x) for x in cell.split("x"))
            assert principles == list(knowledge.matrix.lookup(improving, worsening).principles), cell
        assert page.locator("li[data-idea][data-source='card']").count() >= 1
        shot(page, "device-390x844-offline-leak")
        page.locator("button.vote[data-idea='1'][data-rating='up']").first.click()
        assert "will be sent when you are online" in page.locator("#sync").text_content()
        run_id = page.evaluate("JSON.parse(localStorage.getItem('drain.pendingVotes.v1'))[0].run")
        assert run_id.startswith("d-")
        assert not [f for f in store.feedback() if f["run_id"] == run_id]  # nothing reached the server offline

        context.set_offline(False)
        deadline = time.monotonic() + 60
        while not [f for f in store.feedback() if f["run_id"] == run_id] and time.monotonic() < deadline:
            time.sleep(0.25)
        votes = [f for f in store.feedback() if f["run_id"] == run_id]
        assert len(votes) == 1 and votes[0]["rating"] == "up" and votes[0]["idea"] == 1
        run = store.get_run(run_id)
        assert run["source"] == "device" and run["status"] in ("ok", "partial")
        tree = store.get_tree(run_id)
        logged = store.exchanges(run_id)  # the phone's model replies reach the store too: training data
        assert logged and {e["step"] for e in logged} <= {"frame", "contradict", "resolve"}
        assert any(e["step"] == "frame" for e in logged) and all(e["model"] == "drain-phone.gguf" for e in logged)
        first = tree.contradictions[0]
        assert f"{first.improving.id}x{first.worsening.id}" == cells[0][0]  # the stored tree is the one shown
        assert until(page, "document.querySelector('#sync').textContent.includes('sent')", 30)


def check_embeddings(page: Any) -> None:
    """wllama's sentence vectors in the page match Python's (llama.cpp natively) within a small tolerance."""
    import numpy as np

    from drain.embed.bert_gguf import PROBES
    from drain.embed.encoder import default_embedder

    python = default_embedder().embed(list(PROBES))
    for text, theirs in zip(PROBES, python, strict=True):
        mine = np.asarray(page.evaluate("(text) => window.drainEmbed(text)", text), dtype=np.float64)
        assert mine.shape == theirs.shape
        assert float(mine @ theirs) / float(np.linalg.norm(mine) * np.linalg.norm(theirs)) >= 0.999, text


def test_offline_gas_problem_shows_the_stop_hazard_first_at_360x740(served: tuple[DeviceServer, Store],
                                                                     playwright: Any, tmp_path: Path) -> None:
    server, _ = served
    with phone_browser(playwright, tmp_path / "profile", "360x740") as context:
        page = first_visit(context, server.url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        check_embeddings(page)
        cut_network(context, page)
        page.reload()  # the app opened with no network: the service worker's shell, the bundle from the cache
        assert until(page, READY, 300) and page.evaluate("document.body.dataset.offlineReady") == "true", \
            page.locator("#offline-status").text_content()
        page.fill("#problem", "I smell gas near the stove")
        page.click("#solve")
        assert until(page, "document.querySelector('#hazards [data-hazard]') !== null", 120, every=0.1)
        still_thinking = page.evaluate("document.querySelector('#solve').disabled")
        first = page.eval_on_selector("#hazards [data-hazard]", "e => [e.dataset.hazard, e.className]")
        assert first[0] == "gas" and "stop" in first[1]
        assert still_thinking  # the hazard shows before the phone's model has answered
        assert until(page, "document.querySelector('#status').textContent.includes('Solved on this phone')", 900)
        order = page.evaluate("[...document.querySelector('#result').children].map(e => e.id)")
        assert order.index("hazards") < order.index("tree")
        assert page.get_attribute("#result", "data-engine") == "device"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "device-360x740-offline-gas")
