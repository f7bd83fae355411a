"""Backends are registered in one place: here, and through the ``drain.backends`` entry point group.

A third-party package adds one with, in its ``pyproject.toml``::

    [project.entry-points."drain.backends"]
    mine = "my_package.backend:MyBackend"

>>> sorted(available_backends())[:3]
['embedded', 'fake', 'openai']
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, SamplingOptions
from drain.errors import InputError

__all__ = [
    "Backend",
    "Capabilities",
    "Completion",
    "SamplingOptions",
    "available_backends",
    "get_backend",
    "register_backend",
]

_BUILT_IN = {
    "embedded": "drain.backends.embedded:EmbeddedBackend",
    "openai": "drain.backends.openai:OpenAIBackend",
    "fake": "drain.backends.fake:FakeBackend",
}
_registered: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str, factory: Callable[..., Backend]) -> None:
    """Make ``factory`` (a Backend class or a function returning one) available as ``name``."""
    _registered[name] = factory


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="drain.backends")}


def available_backends() -> dict[str, str]:
    """Name -> where it comes from, for every backend that can be asked for."""
    found = {**_BUILT_IN, **_entry_points()}
    found.update({name: f"registered: {factory!r}" for name, factory in _registered.items()})
    return found


def _load(target: str) -> Callable[..., Backend]:
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


def get_backend(name: str = "embedded", **options: Any) -> Backend:
    """Build the backend called ``name`` with its options (for example ``model=``, ``base_url=``)."""
    if name in _registered:
        return _registered[name](**options)
    if name in _BUILT_IN:
        return _load(_BUILT_IN[name])(**options)
    plugins = _entry_points()
    if name in plugins:
        return _load(plugins[name])(**options)
    known = ", ".join(sorted(available_backends()))
    raise InputError(f"unknown backend {name!r}; available: {known}")
