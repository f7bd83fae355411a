"""Small output helpers shared by the commands: JSON to stdout, a rich console, format checks."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any

__all__ = ["TextOrJson", "console", "print_json"]


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


def print_json(data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON and a newline to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def console(stderr: bool = False) -> Any:
    """A rich console; plain text when the stream is not a terminal."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)
