"""One configuration (drain.config), one error tree and its exit-code table (drain.errors), and the shared
command-line options (drain.commands.options), driven through the CLI in this process."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from drain.commands.common import make_backend
from drain.commands.options import BACKEND, CommandLine, with_options
from drain.config import ENVIRONMENT, FILE_KEYS, load_config
from drain.errors import EXIT_CODES, DrainError, UnknownParameterError, exit_code
from tests.helpers import ROOT, invoke_drain

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start: end if end != -1 else None]


# ------------------------------------------------------------------------------------------ configuration
def test_the_file_then_the_environment_then_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('backend = "openai"\nthreads = 2\nmodel = "drain"\nlog = false\n'
                                          'base_url = "http://gpu.home.arpa:8000/v1"\n', encoding="utf-8")
    from_file = load_config({"DRAIN_HOME": str(tmp_path)})
    assert (from_file.backend, from_file.threads, from_file.model, from_file.log) == ("openai", 2, "drain", False)
    assert from_file.config_file == tmp_path / "config.toml"
    environment = load_config({"DRAIN_HOME": str(tmp_path), "DRAIN_THREADS": "3", "DRAIN_MODEL": "big"})
    assert (environment.threads, environment.model, environment.backend) == (3, "big", "openai")
    given = load_config({"DRAIN_HOME": str(tmp_path), "DRAIN_THREADS": "3"}, overrides={"threads": 1, "model": None})
    assert (given.threads, given.model) == (1, "drain")  # None: an option not given leaves the setting
    assert load_config({"DRAIN_HOME": str(tmp_path)}, read_file=False).backend == "embedded"


@pytest.mark.parametrize(("variable", "raw", "setting", "value"), [
    ("DRAIN_CACHE_DIR", "/tmp/c", "cache_dir", Path("/tmp/c")),
    ("DRAIN_THREADS", "4", "threads", 4),
    ("DRAIN_BASE_URL", "http://x:1/v1", "base_url", "http://x:1/v1"),
    ("OPENAI_BASE_URL", "http://y:1/v1", "base_url", "http://y:1/v1"),
    ("DRAIN_API_KEY", "k1", "api_key", "k1"),
    ("OPENAI_API_KEY", "k2", "api_key", "k2"),
    ("DRAIN_MODEL", "m", "model", "m"),
    ("DRAIN_NO_LOG", "1", "log", False),
    ("DRAIN_SERVE_TOKEN", "t" * 12, "serve_token", "t" * 12),
    ("DRAIN_MATRIX_DIR", "/tmp/m", "matrix_dir", Path("/tmp/m")),
    ("DRAIN_HOUSE_DIR", "/tmp/h", "house_dir", Path("/tmp/h")),
    ("DRAIN_PROMPTS_DIR", "/tmp/p", "prompts_dir", Path("/tmp/p")),
    ("DRAIN_DEVICE_DIR", "/tmp/d", "device_dir", Path("/tmp/d")),
    ("DRAIN_FAKE_DELAY", "0.5", "fake_delay", 0.5),
    ("DRAIN_DEBUG", "1", "debug", True),
])
def test_every_documented_environment_variable_sets_its_setting(tmp_path: Path, variable: str, raw: str,
                                                                 setting: str, value: object) -> None:
    config = load_config({"DRAIN_HOME": str(tmp_path), variable: raw})
    assert getattr(config, setting) == value
    assert getattr(load_config({"DRAIN_HOME": str(tmp_path)}), setting) != value


def test_drain_names_win_over_openai_names_and_empty_is_unset(tmp_path: Path) -> None:
    config = load_config({"DRAIN_HOME": str(tmp_path), "DRAIN_API_KEY": "mine", "OPENAI_API_KEY": "theirs",
                          "DRAIN_THREADS": "  "})
    assert config.api_key == "mine" and config.threads is None


def test_the_readme_documents_every_variable_and_file_key() -> None:
    section = _section("Configuration")
    for variable in ENVIRONMENT:
        assert f"`{variable.name}`" in section, variable.name
    for key in FILE_KEYS:
        assert f"`{key}`" in section, key


@pytest.mark.parametrize(("text", "message"), [
    ("threads = 0\n", "threads must be a whole number of threads from 1 to 256"),
    ("colour = 'red'\n", "has no setting 'colour'"),
    ("backend = \n", "is not valid TOML"),
    ("log = 'no'\n", "log must be true or false"),
])
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    done = invoke_drain("matrix", "1", "14", env={"DRAIN_HOME": str(tmp_path)})
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], lines
    assert "config.toml" in lines[0]


def test_the_config_file_reaches_the_command(tmp_path: Path) -> None:
    """``no_log``-style settings in the file act as the option would: a fake solve logs nothing."""
    (tmp_path / "config.toml").write_text('backend = "fake"\nlog = false\n', encoding="utf-8")
    done = invoke_drain("solve", "noisy furnace", "--format", "json", "--depth", "1",
                        env={"DRAIN_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "runs.sqlite").exists()
    logged = invoke_drain("solve", "noisy furnace", "--format", "json", "--depth", "1", "--backend", "fake",
                          env={"DRAIN_HOME": str(tmp_path / "other")})
    assert logged.returncode == 0 and (tmp_path / "other" / "runs.sqlite").exists()


def test_only_drain_config_reads_the_environment() -> None:
    """No module reads os.environ on its own (drain/cli.py sets OPENBLAS_NUM_THREADS before numpy loads)."""
    readers = []
    for path in sorted([*(ROOT / "drain").rglob("*.py"), *(ROOT / "triz").rglob("*.py")]):
        if path == ROOT / "drain" / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else None
            if name in ("environ", "getenv", "putenv", "unsetenv"):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == ["drain/cli.py:16"], readers


def test_debug_is_a_setting_not_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAIN_DEBUG", raising=False)
    quiet = invoke_drain("matrix", "1", "40")
    assert quiet.returncode == 2 and quiet.stderr.decode().count("\n") == 1
    with pytest.raises(UnknownParameterError, match="no parameter 40"):  # --debug: the exception itself, not one line
        invoke_drain("--debug", "matrix", "1", "40")
    import os

    assert "DRAIN_DEBUG" not in os.environ


# ------------------------------------------------------------------------------------------ exit codes
def test_the_readme_exit_code_table_is_the_one_in_drain_errors() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", _section("Exit codes"), flags=re.MULTILINE)
    table = {int(code): meaning.replace("`", "") for code, meaning in rows}
    assert sorted(table) == sorted(EXIT_CODES)
    for code, meaning in EXIT_CODES.items():
        assert table[code].startswith(meaning), (code, table[code])


def test_every_error_exits_with_a_documented_code() -> None:
    def subclasses(kind: type) -> list[type]:
        return [kind, *(sub for child in kind.__subclasses__() for sub in subclasses(child))]

    kinds = subclasses(DrainError)
    assert len(kinds) >= 15
    for kind in kinds:
        assert kind.exit_code in EXIT_CODES, kind
    from triz.errors import DataFileError

    assert exit_code(UnknownParameterError("x")) == 2 and exit_code(DataFileError("f", 1, "bad")) == 3
    assert exit_code(KeyboardInterrupt()) == 130 and exit_code(RuntimeError()) == 70


# ------------------------------------------------------------------------------------------ shared options
@pytest.mark.parametrize("command", ["solve", "batch", "eval", "serve"])
def test_the_backend_options_are_shared(command: str) -> None:
    done = invoke_drain(command, "--help", env={"COLUMNS": "200"})
    text = done.stdout.decode()
    assert done.returncode == 0
    for flag in ("--backend", "--model", "--adapter", "--no-adapter", "--base-url", "--api-key", "--slots",
                 "--threads", "--timeout", "--writes-ideas"):
        assert flag in text, (command, flag)


@pytest.mark.parametrize("backend", ["fake", "embedded"])
def test_writes_ideas_is_refused_for_a_backend_that_is_not_openai(backend: str, home: Path) -> None:
    done = invoke_drain("solve", "noisy furnace", "--backend", backend, "--writes-ideas")
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert "--writes-ideas" in lines[0] and "openai only" in lines[0]


def test_writes_ideas_reaches_the_openai_backend(tmp_path: Path) -> None:
    environ = {"DRAIN_HOME": str(tmp_path), "DRAIN_BASE_URL": "http://127.0.0.1:9/v1"}
    declared = make_backend(load_config(environ, overrides={"backend": "openai", "writes_ideas": True}),
                            given={"writes_ideas": True})
    assert declared.capabilities.writes_ideas is True
    assert make_backend(load_config(environ, overrides={"backend": "openai"})).capabilities.writes_ideas is False
    (tmp_path / "config.toml").write_text('writes_ideas = true\nbackend = "openai"\n', encoding="utf-8")
    assert make_backend(load_config(environ)).capabilities.writes_ideas is True


def test_a_commands_own_default_does_not_hide_the_config_file(tmp_path: Path) -> None:
    """drain serve's --timeout defaults to 120 s for itself; config.toml's timeout still wins over that
    default, and the command line over both."""
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()

    @app.command()
    @with_options(BACKEND, defaults={"timeout": 120.0})
    def show(*, cli: CommandLine) -> None:
        typer.echo(f"{cli.config.timeout} {cli.given['timeout']}")

    runner = CliRunner()
    env = {"DRAIN_HOME": str(tmp_path)}
    assert runner.invoke(app, [], env=env).output.split() == ["None", "120.0"]
    (tmp_path / "config.toml").write_text("timeout = 30\n", encoding="utf-8")
    assert runner.invoke(app, [], env=env).output.split() == ["30.0", "120.0"]
    assert runner.invoke(app, ["--timeout", "5"], env=env).output.split() == ["5.0", "5.0"]
