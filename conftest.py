"""Doctests and tests alike write their run store under a temporary DRAIN_HOME, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAIN_HOME", str(tmp_path_factory.mktemp("drain-home")))
