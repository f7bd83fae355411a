"""The built wheel carries matrix/, house/ and prompts/, does not install a module named cli, and works installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    return next(out.glob("drain_tips-*.whl"))


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("canonical.csv", "parameters.csv", "principles.csv", "variants.csv", "parameters.toml",
                 "principles.toml", "hazards.toml", "settled.toml", "separation.toml", "constraints.toml",
                 "topics.toml"):
        assert f"triz/_data/matrix/{data}" in names
    for data in ("README.md", "areas.toml", "families/water-basements.toml", "cases/water-basements.jsonl",
                 "hazards/phrasings.jsonl", "hazards/lookalikes.jsonl"):
        assert f"triz/_data/house/{data}" in names
    for step in ("frame", "decompose", "contradict", "resolve", "deepen", "baseline"):
        assert f"drain/_data/prompts/{step}.j2" in names
    assert not any(n == "cli.py" or n.startswith("cli/") for n in names)  # the checkout's runner stays out
    assert any(n.startswith("drain/serve/static/") for n in names)
    if (ROOT / "drain" / "_model" / "drain-lora.gguf").is_file():  # the shipped DRAIN adapter travels along
        assert {"drain/_model/drain-lora.gguf", "drain/_model/run_card.md"} <= set(names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "drain = drain.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_finds_its_data(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = ("import json, triz, drain.prompts as p; from triz.resources import find_data_dir; "
             "print(json.dumps([triz.__file__, str(find_data_dir('matrix')), str(p.PromptLibrary().folder), "
             "triz.lookup(1, 14)]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, check=True)
    module, matrix, prompts, cell = json.loads(done.stdout)
    assert module.startswith(str(site))
    assert matrix == str(site / "triz" / "_data" / "matrix")
    assert prompts == str(site / "drain" / "_data" / "prompts")
    assert cell == [28, 27, 18, 40]
    done = subprocess.run([sys.executable, "-m", "drain", "matrix", "30", "32", "--format", "json"], cwd=tmp_path,
                          env=env, capture_output=True, check=True)
    assert [p["id"] for p in json.loads(done.stdout)["principles"]] == [24, 35, 2]
    done = subprocess.run([sys.executable, "-m", "drain", "kb", "show", "extend-downspouts", "--format", "json"],
                          cwd=tmp_path, env=env, capture_output=True, check=True)
    assert "basement-seepage" in json.loads(done.stdout)["families"]
