"""Shared fixtures: the shipped TRIZ knowledge and a scratch copy of matrix/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import triz
from triz.resources import find_data_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def knowledge() -> triz.TrizKnowledge:
    return triz.load()


@pytest.fixture
def matrix_copy(tmp_path: Path) -> Path:
    """A writable copy of matrix/ to corrupt."""
    target = tmp_path / "matrix"
    shutil.copytree(find_data_dir("matrix"), target)
    return target


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DRAIN_HOME with logging on and no fake-backend delay."""
    folder = tmp_path / "home"
    monkeypatch.setenv("DRAIN_HOME", str(folder))
    monkeypatch.delenv("DRAIN_NO_LOG", raising=False)
    monkeypatch.delenv("DRAIN_FAKE_DELAY", raising=False)
    return folder
