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
