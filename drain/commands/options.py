"""The command line's shared options, defined once, and the configuration each command is handed.

An option group (:data:`BACKEND`, :data:`PLANNER`, :data:`LOGGING`) is a list of Typer options; the
:func:`with_options` decorator adds the groups to a command's own options and calls the command with one
:class:`CommandLine` instead of a dozen parameters: the configuration (:class:`drain.config.DrainConfig`)
with the options given applied, what was given, and the planner settings. A new shared option is one
entry here (and a setting in ``drain.config`` when it configures something).

>>> [option.name for option in BACKEND.options][:4]
['backend', 'model', 'adapter', 'no_adapter']
>>> "--writes-ideas" in BACKEND.flags()
True
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.config import DrainConfig, load_config

__all__ = ["BACKEND", "LOGGING", "PLANNER", "CliState", "CommandLine", "OptionGroup", "with_options"]


class BackendName(StrEnum):
    embedded = "embedded"
    openai = "openai"
    fake = "fake"


@dataclass(frozen=True)
class SharedOption:
    """One option: its parameter name, its type and its Typer definition (flags, default, help)."""

    name: str
    annotation: Any
    info: Any  # typer.Option(...)

    def with_default(self, default: Any) -> SharedOption:
        info = copy.copy(self.info)
        info.default = default
        return SharedOption(self.name, self.annotation, info)


@dataclass(frozen=True)
class OptionGroup:
    """Options that several commands offer alike."""

    name: str
    options: tuple[SharedOption, ...]

    def only(self, *names: str) -> OptionGroup:
        """The group cut down to ``names`` (a command that offers a few of them)."""
        unknown = set(names) - {o.name for o in self.options}
        if unknown:
            raise ValueError(f"the {self.name} options have no {sorted(unknown)}")
        return OptionGroup(self.name, tuple(o for o in self.options if o.name in names))

    def flags(self) -> list[str]:
        return [flag for o in self.options for flag in (o.info.param_decls or ()) if flag.startswith("--")]


BACKEND = OptionGroup("backend", (
    SharedOption("backend", BackendName | None, typer.Option(
        None, "--backend", "-b", help="embedded (the default, offline) or openai; or `backend` in config.toml.")),
    SharedOption("model", str | None, typer.Option(
        None, "--model", "-m", help="GGUF file (embedded) or served model name (openai).")),
    SharedOption("adapter", Path | None, typer.Option(
        None, "--adapter", help="LoRA adapter GGUF for the embedded model (the DRAIN model).")),
    SharedOption("no_adapter", bool, typer.Option(
        False, "--no-adapter", help="Run the base model even if a DRAIN adapter is installed.")),
    SharedOption("base_url", str | None, typer.Option(
        None, "--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM); or DRAIN_BASE_URL.")),
    SharedOption("api_key", str | None, typer.Option(
        None, "--api-key", help="API key for --base-url (or DRAIN_API_KEY).")),
    SharedOption("slots", int | None, typer.Option(
        None, "--slots", min=1, max=64, help="Parallel requests (embedded: model slots).")),
    SharedOption("threads", int | None, typer.Option(
        None, "--threads", min=1, max=256,
        help="CPU threads (the embedded model's by default: one fewer than the CPUs, or DRAIN_THREADS); fewer "
             "keeps it fast next to other busy programs.")),
    SharedOption("timeout", float | None, typer.Option(
        None, "--timeout", min=0.1, max=86400.0,
        help="Seconds a solve may take; then its model calls are stopped (exit 4; drain serve: 504). Also each "
             "HTTP request's limit on the openai backend (default 60 s a request).")),
    SharedOption("writes_ideas", bool, typer.Option(
        False, "--writes-ideas",
        help="The openai backend's model is large enough to write ideas of its own beside the library's cards.")),
))
PLANNER = OptionGroup("planner", (
    SharedOption("depth", int, typer.Option(3, "--depth", "-d", min=1, max=5,
                                            help="Levels of problems: 1 = the problem alone.")),
    SharedOption("max_calls", int, typer.Option(24, "--max-calls", min=1, max=500,
                                                help="Model calls per solve, re-asks included.")),
    SharedOption("seed", int, typer.Option(
        0, "--seed", min=0, max=2**32 - 1,
        help="Sampling seed (0 or more); temperature 0 with a seed repeats exactly.")),
    SharedOption("temperature", float, typer.Option(0.0, "--temperature", min=0.0, max=2.0,
                                                    help="0 is greedy and repeatable.")),
    SharedOption("sequential", bool, typer.Option(False, "--sequential",
                                                  help="One model call at a time (for comparison).")),
))
LOGGING = OptionGroup("logging", (
    SharedOption("no_log", bool, typer.Option(False, "--no-log",
                                              help="Do not record runs in the run store (or DRAIN_NO_LOG=1).")),
))
_CONFIGURES = {"backend", "model", "adapter", "no_adapter", "base_url", "api_key", "slots", "threads", "timeout",
               "writes_ideas"}  # shared options that are settings of drain.config


@dataclass
class CliState:
    """What the ``drain`` command builds once per run and every command reads: the configuration."""

    config: DrainConfig = field(default_factory=load_config)


@dataclass
class CommandLine:
    """What a command is handed: the configuration with its options applied, and the options given."""

    config: DrainConfig
    given: dict[str, Any]  # the shared options as the command line has them (defaults included)

    def planner_settings(self, **changes: Any) -> Any:
        """:class:`~drain.planner.PlannerSettings` from the planner options (and ``changes``)."""
        from drain.planner import PlannerSettings

        values = {name: self.given[name] for name in ("depth", "max_calls", "seed", "temperature")
                  if name in self.given}
        if self.given.get("sequential"):
            values["concurrency"] = 1
        if "timeout" in self.given:
            values["timeout"] = self.config.timeout
        return PlannerSettings(**{**values, **changes})

    def backend(self) -> Any:
        """The backend the configuration describes, after the checks that name the options given."""
        from drain.commands.common import make_backend

        return make_backend(self.config, given=self.given)


def _base_config(context: Any) -> DrainConfig:
    state = context.find_root().obj if context is not None else None
    return state.config if isinstance(state, CliState) else load_config()


def _typed(context: Any, name: str) -> bool:
    """Whether option ``name`` was given on the command line, not left at the command's default (a default
    must not hide config.toml or the environment)."""
    source = context.get_parameter_source(name) if context is not None else None
    return getattr(source, "name", None) != "DEFAULT"  # click's ParameterSource (Typer carries its own click)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _resolved(function: Callable[..., Any]) -> inspect.Signature:
    """The signature with its string annotations (``from __future__ import annotations``) evaluated."""
    return inspect.signature(function, eval_str=True)


def with_options(*groups: OptionGroup, defaults: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    """Give a command the options of ``groups`` (with ``defaults`` changed for it); it is called with its
    own parameters and ``cli`` (a :class:`CommandLine`)."""
    shared = [option.with_default(defaults[option.name]) if defaults and option.name in defaults else option
              for group in groups for option in group.options]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in _resolved(command).parameters.values() if p.name != "cli"]
        extra = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.info, annotation=o.annotation)
                 for o in shared]
        context = inspect.Parameter("typer_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

        @functools.wraps(command)
        def run(*args: Any, typer_context: Any = None, **values: Any) -> Any:
            given = {o.name: _plain(values.pop(o.name)) for o in shared}
            config = _base_config(typer_context)
            config = config.replace(**{name: given[name] or None for name in _CONFIGURES
                                       if name in given and _typed(typer_context, name)})
            if given.get("no_log"):
                config = config.replace(log=False)
            return command(*args, cli=CommandLine(config, given), **values)

        parameters = [*own, *extra, context]
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        del run.__wrapped__  # Typer reads the signature above, not the command's own
        return run

    return decorate
