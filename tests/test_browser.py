"""The phone page in headless Debian chromium (Playwright), against a real uvicorn server and a fake model.

Screenshots go to ``test-artifacts/`` for the record.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drain.backends.fake import FakeBackend
from drain.store import Store
from tests.helpers import ROOT, ThreadedServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]

ARTIFACTS = ROOT / "test-artifacts"
GAS = "I smell gas near the stove and the basement leaks"
PHONE = {"width": 360, "height": 740}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class PacedBackend(FakeBackend):
    """A fake model slow enough that the tree visibly grows level by level."""

    async def complete(self, messages: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.08)
        return await super().complete(messages, **kwargs)


class Server(ThreadedServer):
    """A real uvicorn server on 127.0.0.1, in a background thread, with a paced fake model."""

    def __init__(self, store: Store) -> None:
        from drain.serve import create_app

        self.store = store
        super().__init__(create_app(lambda: PacedBackend(), store=store))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import httpx

    with Server(Store(tmp_path_factory.mktemp("browser") / "runs.sqlite")) as running:
        # ready as a homeowner finds it: the model and the house library loaded (a cold start, a second or
        # more, would hold the first solve's events back until polls of the status are a second apart)
        ready = wait_for(lambda: httpx.get(running.url + "/healthz").json()["model"]["state"] == "ready", 60.0)
        assert ready, "the server's model did not get ready"
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url + "/")
    yield page
    context.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def ask(page: Any, problem: str) -> None:
    from playwright.sync_api import expect

    page.get_by_label("What is wrong with your house?").fill(problem)
    page.get_by_role("button", name="Find ideas").click()
    expect(page.locator("#status")).to_contain_text("Done:")


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def latest_run(store: Store, problem: str) -> str:
    return next(run["id"] for run in store.list_runs(50) if run["problem"] == problem)


# ------------------------------------------------------------------------------------------------ phone
def test_phone_solve_shows_hazards_first_numbers_ideas_and_stores_a_vote(phone: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page = phone
    page.get_by_label("What is wrong with your house?").fill(GAS)
    page.get_by_role("button", name="Find ideas").click()
    expect(page.locator("#status")).to_contain_text("Thinking")  # the tree grows while the model works
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("gas", ignore_case=True)
    expect(page.locator("#status")).to_contain_text("Done:")
    shot(page, "phone-first-screen", full_page=False)
    shot(page, "phone-result")

    # Hazards first: the red banner comes before the tree and above every idea.
    assert page.evaluate("document.querySelector('#result').firstElementChild.id") == "hazards"
    box = banner.bounding_box()
    assert box["y"] < page.locator("ol.ideas > li").first.bounding_box()["y"]
    assert -1 <= box["y"] < PHONE["height"] / 2  # in view when the answer is done (to the sub-pixel), not scrolled away
    assert page.eval_on_selector("#hazard-banner", "e => getComputedStyle(e).backgroundColor") == "rgb(164, 22, 26)"

    run_id = latest_run(server.store, GAS)
    tree = server.store.get_tree(run_id)
    expect(page.locator("#tree")).to_contain_text(tree.ideal_final_result or "")
    first = tree.contradictions[0]
    expect(page.locator("#tree")).to_contain_text(f"Matrix cell {first.improving.id}×{first.worsening.id}")
    expect(page.locator("#tree")).to_contain_text(f"{first.principles[0].id} {first.principles[0].name}")
    items = page.locator("ol.ideas > li")
    numbered = tree.numbered_ideas()
    assert items.count() == len(numbered)
    shown = items.evaluate_all("lis => lis.map(li => [Number(li.value), li.querySelector('.idea-text').textContent])")
    assert shown == [[n, idea.idea] for n, idea in numbered]  # the CLI's numbering, depth first
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling

    page.get_by_role("button", name="Helpful (idea 2)", exact=True).click()
    expect(page.locator("#sync")).to_contain_text("saved")
    expect(page.get_by_role("button", name="Helpful (idea 2)", exact=True)).to_have_attribute("aria-pressed", "true")
    rows = server.store.feedback(run_id)
    assert [(r["idea"], r["rating"], r["source"]) for r in rows] == [(2, "up", "api")]
    assert rows[0]["client_event_id"].startswith("v-")
    shot(page, "phone-voted")


def test_phone_shows_checks_card_steps_and_asks_which_family(phone: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page = phone
    page.get_by_label("What is wrong with your house?").fill("the toilet runs and the bill is high")
    page.get_by_role("button", name="Find ideas").click()
    expect(page.locator("#status")).to_contain_text("Done:")
    run_id = latest_run(server.store, "the toilet runs and the bill is high")
    tree = server.store.get_tree(run_id)
    assert tree.clarify is not None  # two families fit about as well: the page asks which one
    choices = page.locator("button.clarify-choice")
    expect(choices).to_have_count(2)
    first = tree.contradictions[0]
    cell = page.locator(f'[data-cell="{first.improving.id}x{first.worsening.id}"]').first
    expect(cell).to_be_visible()
    card = page.locator("li[data-source='card']").first
    details = card.locator("details.card-details")
    expect(details.locator("ol.steps")).not_to_be_visible()  # folded until the homeowner opens it
    details.locator("summary").click()
    idea = next(i for _, i in tree.numbered_ideas() if i.source == "card")
    expect(details.locator("ol.steps > li").first).to_have_text(idea.steps[0])
    expect(details).to_contain_text("$")
    shot(page, "phone-card-steps")
    wanted = choices.nth(1).get_attribute("data-family")
    choices.nth(1).click()  # solve again as that family
    expect(page.locator("#status")).to_contain_text("Done:")
    expect(page.locator("#clarify")).to_have_count(0)
    again = server.store.get_tree(server.store.list_runs(1)[0]["id"])
    assert again.families[0].id == wanted and again.clarify is None
    if again.diagnosis:
        expect(page.locator("#diagnosis")).to_contain_text(again.diagnosis[0].check)


def test_offline_votes_are_queued_then_synced_from_recent_problems(phone: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page = phone
    ask(page, "noisy furnace in the basement")
    run_id = latest_run(server.store, "noisy furnace in the basement")
    page.reload()
    recent = page.get_by_role("button", name=re.compile("noisy furnace in the basement"))
    recent.first.click()
    expect(page.locator("#status")).to_contain_text("An earlier answer")

    page.context.set_offline(True)
    page.get_by_role("button", name="Not helpful (idea 1)", exact=True).click()
    expect(page.locator("#sync")).to_contain_text("will be sent when you are online")
    queued = page.evaluate("JSON.parse(localStorage.getItem('drain.pendingVotes.v1'))")
    assert [(v["run"], v["idea"], v["rating"]) for v in queued] == [(run_id, 1, "down")]
    assert server.store.feedback(run_id) == []
    shot(page, "phone-offline-vote")

    page.context.set_offline(False)
    expect(page.locator("#sync")).to_contain_text("offline votes are sent")
    rows = wait_for(lambda: server.store.feedback(run_id))
    assert [(r["idea"], r["rating"], r["client_event_id"]) for r in rows] == [(1, "down", queued[0]["client_event_id"])]
    assert page.evaluate("JSON.parse(localStorage.getItem('drain.pendingVotes.v1'))") == []


def test_keyboard_only_submit_and_vote(phone: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page = phone
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "problem":
            break
    assert page.evaluate("document.activeElement.id") == "problem"
    page.keyboard.type("drafty windows, can't replace them")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "depth"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "solve"
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Done:")
    expect(page.locator("#result-title")).to_be_focused()  # focus moves to the answer (once the stream has ended)
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Helpful (idea 1)":
            break
    page.keyboard.press("Space")
    expect(page.locator("#sync")).to_contain_text("saved")
    run_id = latest_run(server.store, "drafty windows, can't replace them")
    assert [(r["idea"], r["rating"]) for r in server.store.feedback(run_id)] == [(1, "up")]

    page.get_by_label("What is wrong with your house?").focus()  # Ctrl+Enter sends from the text box
    page.keyboard.press("Control+A")
    page.keyboard.type("sticking front door in summer")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#status")).to_contain_text("Done:")
    assert any(run["problem"] == "sticking front door in summer" for run in server.store.list_runs(50))
    shot(page, "phone-keyboard")


def test_api_docs_render_offline_from_openapi(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(server.url) else outside.append(request.url))
    try:
        page.goto(server.url + "/docs")
        page.wait_for_selector("section h2 code")
        paths = page.locator("section h2 code").all_text_contents()
        assert "/v1/solve" in paths and "/v1/feedback/batch" in paths
        assert outside == []
        shot(page, "api-docs")
    finally:
        context.close()


# ------------------------------------------------------------------------------------------------ desktop
def test_desktop_layout(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(server.url + "/")
        ask(page, GAS)
        ask_box = page.locator("#ask").bounding_box()
        history = page.locator("#history").bounding_box()
        assert history["x"] > ask_box["x"] + ask_box["width"] - 1  # recent problems sit beside the answer
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert page.get_by_role("alert").is_visible()
        shot(page, "desktop-result")
    finally:
        context.close()


# ------------------------------------------------------------------------------------------------ quality
CONTRAST = """() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.offsetParent === null && style.position !== "fixed") continue;
    const a = lum(parse(style.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.6 && style.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

LABELS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) bad.push(el.id || el.tagName);
  }
  for (const el of document.querySelectorAll("button, a")) {
    if (!(el.getAttribute("aria-label") || el.textContent.trim())) bad.push(el.outerHTML.slice(0, 60));
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) bad.push(img.src);
  return bad;
}"""


def test_basic_accessibility_and_safe_model_text(phone: Any, server: Server) -> None:
    page = phone
    problem = "<b>bold</b> leak <img src=x onerror=alert(1)> under the sink"
    ask(page, problem)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").count() == 1
    assert page.evaluate(LABELS) == []
    assert page.evaluate(CONTRAST) == []
    small = page.eval_on_selector_all(
        "button", "bs => bs.filter(b => b.offsetParent && b.getBoundingClientRect().height < 44).map(b => b.id)")
    assert small == []  # touch targets at least 44 px high
    # Model and user text is text: nothing in it became markup.
    assert page.locator("#tree b, #tree img, #recent b, #recent img").count() == 0
    assert problem in page.locator("#tree").text_content()
    shot(page, "phone-accessibility")


def test_everything_is_local_and_the_service_worker_caches_only_the_shell(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(server.url + "/")
        assert page.evaluate("navigator.serviceWorker.ready.then(r => Boolean(r.active))")
        ask(page, "condensation on the bedroom windows")
        page.reload()  # the second load goes through the service worker
        page.wait_for_load_state("networkidle")
        cached = page.evaluate("""async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
            }
            return urls.sort();
        }""")
        assert "/" in cached and "/static/app.js" in cached and "/manifest.webmanifest" in cached
        assert not [url for url in cached if url.startswith("/v1/")]
        assert requested and all(url.startswith(server.url) for url in requested)
        manifest = page.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
        assert manifest["display"] == "standalone" and manifest["icons"]
    finally:
        context.close()
