"""DRAIN on the phone itself, measured in headless Debian chromium (mobile emulation, 390x844): the page
downloads the bundle from a local `drain serve`, loads both models in wllama (llama.cpp in WebAssembly),
then solves offline. One fresh browser profile per configuration: single-threaded and multi-threaded
(the page is cross-origin isolated, so wllama may run threads).

    .venv/bin/python bench/bench_device_page.py [--threads 1 2] [--problem "leaking basement on budget"]

Reports: the download size (each file and in all), time to "ready offline" (download over loopback plus
loading both models), time to the first offline result, decoding tokens per second in the page, and the
peak resident memory of chromium's renderer processes (the tab and its workers) during the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _shell_bytes() -> int:
    """The size of the files the service worker caches (its SHELL list), read off sw.js."""
    import re

    from drain.serve.app import STATIC_DIR

    listed = re.findall(r'"(/[^"]*)"', (STATIC_DIR / "sw.js").read_text().split("];")[0])
    total = 0
    for path in listed:
        name = {"/": "index.html", "/manifest.webmanifest": "manifest.webmanifest"}.get(path, path[len("/static/"):])
        total += (STATIC_DIR / name).stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--problem", default="leaking basement on budget")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from drain.store import Store
    from tests.device_page import (
        DeviceServer,
        MemoryWatch,
        make_bundle,
        measures,
        phone_browser,
        solve_here,
        until,
    )

    work = Path(tempfile.mkdtemp(prefix="drain-bench-device-"))
    folder = make_bundle(work / "bundle")
    rows = []
    with DeviceServer(Store(work / "runs.sqlite"), folder) as server, sync_playwright() as playwright:
        manifest = None
        for threads in args.threads:
            with MemoryWatch() as memory, phone_browser(playwright, work / f"profile-{threads}", "390x844") as ctx:
                page = ctx.new_page()
                page.set_default_timeout(120_000)
                started = time.monotonic()
                page.goto(f"{server.url}/?threads={threads}")
                until(page, "document.body.dataset.offlineReady === 'true' || "
                            "document.body.dataset.offlineReady === 'false'", 900)
                ready = time.monotonic() - started
                if page.evaluate("document.body.dataset.offlineReady") != "true":
                    raise SystemExit(f"not ready: {page.locator('#offline-status').text_content()}")
                manifest = manifest or page.evaluate("fetch('/device/manifest.json').then(r => r.json())")
                ctx.set_offline(True)
                seconds = solve_here(page, args.problem)
                status = page.locator("#status").text_content()
                found = measures(page)
                rows.append((threads, found, ready, seconds, memory, status))
    print(f"problem: {args.problem!r}; one fresh browser profile per row; page served by drain serve on loopback")
    print()
    print("file                 MB")
    for item in manifest["files"]:
        print(f"{item['name']:<20} {item['bytes'] / 1e6:7.1f}")
    shell = _shell_bytes()
    print(f"{'app shell':<20} {shell / 1e6:7.1f}   (page, scripts, wllama.wasm: what sw.js caches)")
    print(f"{'total download':<20} {(manifest['total_bytes'] + shell) / 1e6:7.1f}")
    print()
    print("threads  isolated  multithread  ready s  (download s)  first offline result s  decode tok/s  "
          "peak tab RSS MB  result")
    for threads, found, ready, seconds, memory, status in rows:
        speed = found["tokens_per_second"]
        print(f"{threads:>7}  {found['cross_origin_isolated']!s:>8}  {found['multithread']!s:>11}  {ready:7.1f}  "
              f"{found['download_seconds']:12.1f}  {seconds:22.1f}  {speed or 0:12.1f}  {memory.peak / 1e6:15.0f}  "
              f"{'ok' if 'Solved on this phone' in status else status}")


if __name__ == "__main__":
    main()
