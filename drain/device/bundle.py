"""What the DRAIN server hands a phone for solving offline: the data, its vectors and the two GGUF models.

The files live in one folder (``$DRAIN_DEVICE_DIR``, else ``<DRAIN cache>/device``), written by ``drain
device export`` (the data) and ``drain model phone -o FOLDER/drain-phone.gguf`` (the model). What the
folder lacks is made here: the data is built from the shipped data in memory, the embedding model is the
checked GGUF DRAIN caches for itself. :meth:`DeviceBundle.manifest` lists what the page downloads, with
sizes, so the page can show its progress and say plainly how much it is.

>>> import tempfile
>>> bundle = DeviceBundle(Path(tempfile.mkdtemp()))
>>> [f["name"] for f in bundle.manifest()["files"]]
['drain-device.json', 'drain-vectors.f16', 'drain-embed.gguf', 'drain-phone.gguf']
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drain.config import DrainConfig, load_config
from drain.device.export import DATA_FILE, VECTORS_FILE, DeviceExport, build_export

__all__ = ["EMBED_FILE", "PHONE_FILE", "DeviceBundle", "DeviceFile", "default_device_dir"]

PHONE_FILE = "drain-phone.gguf"
EMBED_FILE = "drain-embed.gguf"
NAMES = (DATA_FILE, VECTORS_FILE, EMBED_FILE, PHONE_FILE)


def default_device_dir(config: DrainConfig | None = None) -> Path:
    """The configured device folder (``$DRAIN_DEVICE_DIR``, ``device_dir`` in config.toml), else ``device/``
    in DRAIN's cache."""
    config = config or load_config()
    return config.device_dir or config.cache_dir / "device"


@dataclass(frozen=True)
class DeviceFile:
    """One file of the bundle: on disk (``path``) or made in memory (``content``)."""

    name: str
    path: Path | None = None
    content: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else (self.path.stat().st_size if self.path else 0)


class DeviceBundle:
    """The files for the phone, found in ``folder`` or made (the data) on first use."""

    def __init__(self, folder: Path | None = None, *, phone_model: Path | None = None,
                 embed_model: Path | None = None) -> None:
        self.folder = folder or default_device_dir()
        self._phone = phone_model
        self._embed = embed_model
        self._export: DeviceExport | None = None
        self._lock = threading.Lock()

    def _built(self) -> DeviceExport:
        with self._lock:
            if self._export is None:
                self._export = build_export()
            return self._export

    def _disk(self, name: str) -> Path | None:
        path = self.folder / name
        return path if path.is_file() else None

    def file(self, name: str) -> DeviceFile | None:
        """The file named ``name``, or None when it is not one of the bundle's or is missing."""
        if name == PHONE_FILE:
            path = self._phone or self._disk(name)
            return DeviceFile(name, path=path) if path is not None and path.is_file() else None
        if name == EMBED_FILE:
            path = self._embed or self._disk(name)
            if path is None:
                from drain.embed.encoder import Embedder
                from drain.errors import DrainError

                try:
                    path = Embedder().path  # the checked GGUF, written once into DRAIN's cache
                except DrainError:
                    return None  # no embedding model here (its wheel is missing): listed as missing
            return DeviceFile(name, path=path) if path.is_file() else None
        if name in (DATA_FILE, VECTORS_FILE):
            if self._disk(DATA_FILE) and self._disk(VECTORS_FILE):
                return DeviceFile(name, path=self._disk(name))
            built = self._built()
            return DeviceFile(name, content=built.data_bytes() if name == DATA_FILE else built.vectors)
        return None

    def manifest(self) -> dict[str, Any]:
        """What the page downloads: each file's name, URL and size (missing ones with ``missing: true``);
        ``version`` changes whenever a file does, so the page knows when to download again."""
        files, total = [], 0
        for name in NAMES:
            found = self.file(name)
            entry: dict[str, Any] = {"name": name, "url": f"/device/{name}"}
            if found is None:
                entry["missing"] = True
            else:
                entry["bytes"] = found.size
                total += found.size
                if found.path is not None:
                    stat = found.path.stat()
                    entry["stamp"] = f"{stat.st_size}-{stat.st_mtime_ns}"
                else:
                    entry["stamp"] = hashlib.sha256(found.content or b"").hexdigest()[:16]
            files.append(entry)
        version = hashlib.sha256(repr([(f["name"], f.get("stamp")) for f in files]).encode()).hexdigest()[:16]
        return {"format": 1, "files": files, "total_bytes": total, "version": version,
                "ready": not any(f.get("missing") for f in files)}
