"""What the on-device browser test and its benchmark share: a DRAIN server that offers the phone bundle (the
real phone GGUF from ``drain model phone``, the exported data, the embedding GGUF), and Debian's chromium
with a real profile on disk (Cache Storage holds the 200 MB bundle; an incognito context's quota may not).

The page's Content-Security-Policy forbids eval, so the waits poll with ``page.evaluate`` instead of
Playwright's ``wait_for_function``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drain.backends.fake import FakeBackend
from drain.store import Store
from tests.helpers import ThreadedServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"360x740": {"width": 360, "height": 740}, "390x844": {"width": 390, "height": 844}}


def make_bundle(folder: Path) -> Path:
    """``folder`` with the exported data and the phone model (``drain model phone``, run here: about 25 s)."""
    from drain.cli import main
    from drain.device.export import write_export

    folder.mkdir(parents=True, exist_ok=True)
    phone = folder / "drain-phone.gguf"
    if not phone.is_file():
        try:
            main(["model", "phone", "-o", str(phone), "--quant", "q8_0", "--threads", "1"])
        except SystemExit as done:
            if done.code:
                raise RuntimeError(f"drain model phone failed ({done.code})") from None
    write_export(folder)
    return folder


class DeviceServer(ThreadedServer):
    """uvicorn on 127.0.0.1 in a thread, serving the phone bundle from ``folder`` (the server's own model is a
    fake: the phone solves with its own)."""

    def __init__(self, store: Store, folder: Path) -> None:
        from drain.device.bundle import DeviceBundle
        from drain.serve import create_app

        app = create_app(lambda: FakeBackend(), store=store, device=DeviceBundle(folder))
        super().__init__(app, lifespan="auto", start_timeout=60)


@contextmanager
def phone_browser(playwright: Any, profile: Path, size: str) -> Iterator[Any]:
    """A persistent chromium context with mobile emulation at ``size`` (one of :data:`SIZES`)."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=SIZES[size],
        is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        yield context
    finally:
        context.close()


def until(page: Any, script: str, timeout: float, every: float = 0.25) -> Any:
    """Poll ``script`` (an expression) in the page until it is truthy; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


SOLVED = ("document.querySelector('#status').textContent.includes('Solved on this phone') "
          "|| document.querySelector('#status').classList.contains('error')")


def solve_here(page: Any, problem: str, timeout: float = 900) -> float:
    """Type ``problem``, send it, wait for the phone's answer; seconds it took."""
    page.fill("#problem", problem)
    started = time.monotonic()
    page.click("#solve")
    until(page, SOLVED, timeout)
    return time.monotonic() - started


class MemoryWatch:
    """The peak resident memory of chromium's renderer processes (the tab and its workers), sampled from /proc."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                cmdline = (status.parent / "cmdline").read_bytes()  # chromium rewrites it as one spaced line
                if b"chromium" not in cmdline.split(b"\0")[0].split(b" ")[0] or b"--type=renderer" not in cmdline:
                    continue
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, IndexError, ValueError):
                continue  # the process ended meanwhile
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.every)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def measures(page: Any) -> dict[str, Any]:
    return page.evaluate("window.drainMeasures()")

