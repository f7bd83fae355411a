"""DRAIN's configuration: one typed object, built once and handed down.

:func:`load_config` builds a :class:`DrainConfig` from, in rising order of precedence, the defaults, the
user's config file (``config.toml`` in the DRAIN home), the environment (``DRAIN_*``) and the command
line (``overrides``). This is the only module that reads the environment: the CLI builds one config per
command and hands it to the planner, the backends, the store and the data loaders; library calls that
are given none build their own from the same sources.

The config file is TOML with the keys of :data:`FILE_KEYS` (the README's "Configuration" section lists
them), for example::

    backend = "openai"
    base_url = "http://gpu.home.arpa:8000/v1"
    model = "drain"
    threads = 1
    log = false

>>> config = load_config({"DRAIN_HOME": "/tmp/drain-home", "DRAIN_THREADS": "2", "DRAIN_NO_LOG": "1"})
>>> config.home.as_posix(), config.threads, config.log, config.backend
('/tmp/drain-home', 2, False, 'embedded')
>>> load_config({"DRAIN_HOME": "/tmp/drain-home"}, overrides={"backend": "openai", "slots": None}).backend
'openai'
>>> load_config({"DRAIN_THREADS": "many"})
Traceback (most recent call last):
...
drain.errors.InputError: DRAIN_THREADS must be a whole number of threads from 1 to 256, not 'many'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain.errors import InputError

__all__ = ["CONFIG_FILE", "ENVIRONMENT", "FILE_KEYS", "DrainConfig", "check_threads", "load_config"]

CONFIG_FILE = "config.toml"  # in the DRAIN home


@dataclass(frozen=True)
class DrainConfig:
    """Everything DRAIN reads from outside the code. ``None`` means "the component's own default"."""

    home: Path  # the run store, the installed adapter, caches of converted bases
    cache_dir: Path  # the embedding model's GGUF and sentence vectors (keyed by content: one for all homes)
    config_file: Path | None = None  # the file this config was read from, if there was one
    backend: str = "embedded"
    model: str | None = None  # a GGUF file (embedded) or a served model name (openai)
    adapter: Path | None = None
    no_adapter: bool = False
    base_url: str | None = None
    api_key: str | None = None
    slots: int | None = None
    threads: int | None = None  # the embedded model's and the embedding model's CPU threads
    timeout: float | None = None  # seconds a solve may take (and each HTTP request of the openai backend)
    writes_ideas: bool = False  # the openai backend's model may write ideas of its own beside the cards
    log: bool = True  # record runs in the run store
    serve_token: str | None = None
    matrix_dir: Path | None = None  # a working copy of matrix/ (a domain expert's), else the shipped one
    house_dir: Path | None = None
    prompts_dir: Path | None = None
    device_dir: Path | None = None  # the phone bundle's files (else device/ in the cache)
    fake_delay: float = 0.0  # seconds the fake backend sleeps per request (slow solves for tests)
    debug: bool = False  # tracebacks instead of one-line errors

    @property
    def store_path(self) -> Path:
        return self.home / "runs.sqlite"

    def knowledge(self, *, lazy: bool = False) -> Any:
        """The TRIZ knowledge from :attr:`matrix_dir` (else the shipped ``matrix/``), loaded once per folder."""
        from triz.knowledge import load

        return load(self.matrix_dir, lazy=lazy)

    def house(self, knowledge: Any = None) -> Any:
        """The house library from :attr:`house_dir` (else the shipped ``house/``), loaded once per folder."""
        from triz.house import load_house

        return load_house(self.house_dir, knowledge if knowledge is not None else self.knowledge())

    def prompts(self) -> Any:
        """The planner's prompt templates from :attr:`prompts_dir` (else the shipped ``prompts/``)."""
        from drain.prompts import PromptLibrary

        return PromptLibrary(self.prompts_dir)

    def replace(self, **changes: Any) -> DrainConfig:
        """A copy with ``changes`` applied; ``None`` values leave a setting as it is (an option not given)."""
        given = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **{name: _coerce(name, value, "the command line")
                                            for name, value in given.items()})


# ------------------------------------------------------------------------------------------------ parsing
def check_threads(value: object, where: str = "threads") -> int:
    """``value`` as a thread count (a whole number from 1 to 256), or one clear :class:`InputError`.

    >>> check_threads("3")
    3
    """
    try:
        threads = int(str(value)) if not isinstance(value, bool) else 0
    except ValueError:
        threads = 0
    if not 1 <= threads <= 256:
        raise InputError(f"{where} must be a whole number of threads from 1 to 256, not {value!r}")
    return threads


def _path(value: object, where: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise InputError(f"{where} must be a folder or file name, not {value!r}")
    return Path(value).expanduser()


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where} must be text, not {value!r}")
    return value


def _flag(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InputError(f"{where} must be true or false, not {value!r}")


def _seconds(value: object, where: str) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise InputError(f"{where} must be a number of seconds (0 or more), not {value!r}")
    return seconds


def _slots(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise InputError(f"{where} must be a whole number from 1 to 64, not {value!r}")
    return value


_PARSERS: dict[str, Callable[[object, str], Any]] = {
    "home": _path, "cache_dir": _path, "adapter": _path, "matrix_dir": _path, "house_dir": _path,
    "prompts_dir": _path, "config_file": _path, "device_dir": _path,
    "backend": _text, "model": _text, "base_url": _text, "api_key": _text, "serve_token": _text,
    "slots": _slots, "threads": check_threads, "timeout": _seconds, "fake_delay": _seconds,
    "no_adapter": _flag, "writes_ideas": _flag, "log": _flag, "debug": _flag,
}


def _coerce(name: str, value: object, where: str) -> Any:
    if name not in _PARSERS:
        raise InputError(f"{where}: DRAIN has no setting {name!r}")
    if name == "timeout" and _seconds(value, f"{where}: timeout") == 0:
        raise InputError(f"{where}: timeout must be more than 0 seconds")
    if isinstance(value, Path) and name in ("home", "cache_dir", "adapter", "matrix_dir", "house_dir", "prompts_dir",
                                            "device_dir"):
        return value
    return _PARSERS[name](value, where if where.startswith("DRAIN_") else f"{where}: {name}")


# ------------------------------------------------------------------------------------------------ sources
@dataclass(frozen=True)
class _Variable:
    name: str
    setting: str
    meaning: str
    parse: Callable[[str], Any] = field(default=lambda raw: raw)


def _no_log(raw: str) -> bool:
    return raw in ("", "0")  # DRAIN_NO_LOG=1 (anything but empty or 0) turns logging off


def _debug(raw: str) -> bool:
    return raw not in ("", "0")


ENVIRONMENT: tuple[_Variable, ...] = (
    _Variable("DRAIN_HOME", "home", "the DRAIN home: run store, installed adapter, config.toml"),
    _Variable("DRAIN_CACHE_DIR", "cache_dir", "the embedding model's GGUF and cached sentence vectors"),
    _Variable("DRAIN_THREADS", "threads", "CPU threads of the embedded and the embedding model"),
    _Variable("DRAIN_BASE_URL", "base_url", "the OpenAI-compatible server (--base-url)"),
    _Variable("OPENAI_BASE_URL", "base_url", "used when DRAIN_BASE_URL is not set"),
    _Variable("DRAIN_API_KEY", "api_key", "its API key (--api-key)"),
    _Variable("OPENAI_API_KEY", "api_key", "used when DRAIN_API_KEY is not set"),
    _Variable("DRAIN_MODEL", "model", "the served model name for --backend openai (--model)"),
    _Variable("DRAIN_NO_LOG", "log", "1: record no runs in the run store (--no-log)", _no_log),
    _Variable("DRAIN_SERVE_TOKEN", "serve_token", "the access token of drain serve (--token)"),
    _Variable("DRAIN_MATRIX_DIR", "matrix_dir", "a working copy of matrix/ to use instead of the shipped one"),
    _Variable("DRAIN_HOUSE_DIR", "house_dir", "a working copy of house/"),
    _Variable("DRAIN_PROMPTS_DIR", "prompts_dir", "a working copy of prompts/"),
    _Variable("DRAIN_DEVICE_DIR", "device_dir", "the phone bundle's files (drain device export, drain serve)"),
    _Variable("DRAIN_FAKE_DELAY", "fake_delay", "seconds --backend fake sleeps per request (tests)"),
    _Variable("DRAIN_DEBUG", "debug", "1: tracebacks instead of one-line errors (--debug)", _debug),
)
# The settings a config file may hold (the home cannot: the file lives in it).
FILE_KEYS: tuple[str, ...] = ("backend", "model", "adapter", "no_adapter", "base_url", "api_key", "slots", "threads",
                              "timeout", "writes_ideas", "log", "serve_token", "cache_dir", "matrix_dir",
                              "house_dir", "prompts_dir", "device_dir")


def _default_home(environ: Mapping[str, str]) -> Path:
    raw = environ.get("DRAIN_HOME", "").strip()
    if raw:
        return Path(raw).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("drain", appauthor=False))


def _default_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("drain", appauthor=False))


def _read_file(path: Path) -> dict[str, Any]:
    """The settings of a config file, checked key by key."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the config file {path}: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"the config file {path} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise InputError(f"the config file {path} has no setting {unknown[0]!r}; it may set: {', '.join(FILE_KEYS)}")
    return {name: _coerce(name, value, f"the config file {path}") for name, value in data.items()}


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for variable in reversed(ENVIRONMENT):  # the first of two names for one setting wins (DRAIN_ over OPENAI_)
        raw = environ.get(variable.name, "")
        if not raw.strip():
            continue  # set but empty: as if not set
        value = variable.parse(raw.strip())
        found[variable.setting] = value if isinstance(value, bool) else _coerce(variable.setting, value, variable.name)
    return found


def load_config(environ: Mapping[str, str] | None = None, *, overrides: Mapping[str, Any] | None = None,
                read_file: bool = True) -> DrainConfig:
    """The configuration: defaults, then ``<home>/config.toml`` (if there is one and ``read_file``), then
    ``environ`` (the process environment when None), then ``overrides`` (``None`` values are skipped)."""
    environ = os.environ if environ is None else environ
    home = _default_home(environ)
    settings: dict[str, Any] = {"home": home, "cache_dir": _default_cache()}
    path = home / CONFIG_FILE
    if read_file and path.is_file():
        settings.update(_read_file(path), config_file=path)
    settings.update(_from_environment(environ))
    settings["home"] = home
    config = DrainConfig(**settings)
    return config.replace(**dict(overrides or {}))
