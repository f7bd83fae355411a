"""``drain solve --ask``: on a real terminal, two families that fit about as well are asked about first."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from tests.helpers import ROOT

CLOSE_CALL = "the toilet runs and the bill is high"


def _read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def test_ask_offers_the_two_families_and_solves_as_the_one_chosen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    main, child = pty.openpty()
    out = tmp_path / "tree.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "drain", "solve", CLOSE_CALL, "--ask", "--backend", "fake", "--no-log", "--depth", "1",
         "-f", "json", "-o", str(out)],
        stdin=child, stdout=child, stderr=child, cwd=ROOT, env={**os.environ, "DRAIN_HOME": str(tmp_path)})
    os.close(child)
    try:
        shown = _read_until(main, b"Which is closer?", 120).decode(errors="replace")
        assert "1) " in shown and "2) " in shown, shown
        second = shown.split("2) ", 1)[1].splitlines()[0].strip()
        os.write(main, b"2\n")
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            _read_until(main, b"\0", 0.5)  # keep reading the live view, or a full terminal blocks the solve
        assert process.wait(timeout=5) == 0
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    tree = json.loads(out.read_text())
    assert tree["families"][0]["name"] == second and tree["clarify"] is None


def test_without_a_terminal_ask_never_blocks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([sys.executable, "-m", "drain", "solve", CLOSE_CALL, "--ask", "--backend", "fake",
                           "--no-log", "--depth", "1", "-f", "json"], capture_output=True, cwd=ROOT, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, "DRAIN_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["clarify"] is not None  # the question stays in the tree for the reader
