"""The phone page against a server started with a token, in headless Debian chromium (Playwright): it
asks for the token once (when a /v1 call answers 401), keeps it, and sends it on every call, the
offline vote sync included."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drain.backends.fake import FakeBackend
from drain.store import Store
from tests.helpers import ThreadedServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "kitchen-table-7d3f"


class Server(ThreadedServer):
    """A real uvicorn server on 127.0.0.1 that needs ``TOKEN``; counts the /v1 requests by outcome."""

    def __init__(self, store: Store) -> None:
        from drain.serve import create_app

        self.store = store
        self.seen: list[tuple[str, str, int]] = []  # (path, authorization sent, status)
        app = create_app(lambda: FakeBackend(delay=0.02), store=store, token=TOKEN)

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
                await app(scope, receive, send)
                return
            headers = dict(scope["headers"])
            status = [0]

            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            await app(scope, receive, watch)
            self.seen.append((scope["path"], headers.get(b"authorization", b"").decode(), status[0]))

        super().__init__(counting)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(Store(tmp_path / "runs.sqlite")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_the_page_asks_for_the_token_once_and_sends_it_everywhere(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    form = page.locator("#token-form")
    expect(form).to_be_visible()  # the recent-problems call answered 401
    assert page.evaluate("document.activeElement.id") == "token"
    assert any(status == 401 and auth == "" for _, auth, status in server.seen)

    page.get_by_label("Access token").fill("not-the-token")
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#token-hint")).to_contain_text("not accepted")
    expect(form).to_be_visible()
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(form).to_be_hidden()
    expect(page.locator("#recent")).to_contain_text("No problems yet.")
    assert page.evaluate("localStorage.getItem('drain.token.v1')") == TOKEN

    page.get_by_label("What is wrong with your house?").fill("noisy furnace in the basement")
    page.get_by_role("button", name="Find ideas").click()
    expect(page.locator("#status")).to_contain_text("Done:")
    run_id = server.store.list_runs(1)[0]["id"]

    page.reload()  # kept: no second question
    recent = page.get_by_role("button", name=re.compile("noisy furnace in the basement"))
    recent.first.click()
    expect(page.locator("#status")).to_contain_text("An earlier answer")
    expect(form).to_be_hidden()
    context.set_offline(True)
    page.get_by_role("button", name="Helpful (idea 1)", exact=True).click()
    expect(page.locator("#sync")).to_contain_text("will be sent when you are online")
    assert server.store.feedback(run_id) == []
    context.set_offline(False)
    expect(page.locator("#sync")).to_contain_text("offline votes are sent")
    rows = wait_for(lambda: server.store.feedback(run_id))
    assert [(r["idea"], r["rating"]) for r in rows] == [(1, "up")]

    asked_after = [s for s in server.seen if s[2] == 401 and s[1] == f"Bearer {TOKEN}"]
    assert asked_after == []  # once given, the token went with every call
    synced = [s for s in server.seen if s[0] == "/v1/feedback/batch"]
    assert synced and all(auth == f"Bearer {TOKEN}" and status == 200 for _, auth, status in synced)
    for path in ("/v1/solve/stream", "/v1/runs", f"/v1/runs/{run_id}"):
        assert any(p == path and auth == f"Bearer {TOKEN}" and status == 200 for p, auth, status in server.seen)
    context.close()


def test_not_now_leaves_the_page_usable_and_asks_again_later(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    expect(page.locator("#token-form")).to_be_visible()
    page.get_by_role("button", name="Not now").click()
    expect(page.locator("#token-form")).to_be_hidden()
    expect(page.locator("#recent")).to_contain_text("when DRAIN is reachable")
    page.get_by_label("What is wrong with your house?").fill("drafty windows")
    page.get_by_role("button", name="Find ideas").click()
    expect(page.locator("#token-form")).to_be_visible()  # a solve needs it: asked again
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#status")).to_contain_text("Done:")
    context.close()
