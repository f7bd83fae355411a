"""Writing a file whole or not at all: the new content goes to a temporary file beside it, which replaces
the old one only when it is complete (a crash or an error leaves the old file, never half a new one).

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "data.txt"
>>> with replacing(target) as temporary:
...     _ = temporary.write_text("new")
>>> target.read_text()
'new'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing"]


@contextmanager
def replacing(path: Path, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it becomes ``path`` (mode 0644).

    ``suffix``: the temporary file's ending, for writers that insist on one (numpy adds ".npz").
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=path.name, suffix=suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
