"""Imports only point down (handlers -> logic -> dal -> models/exceptions): `make lint` runs
import-linter with the contracts in pyproject.toml; these tests prove the check bites."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its import contracts."""
    shutil.copytree(
        ROOT / "src" / "binvault", tmp_path / "src" / "binvault", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_every_import_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("dal/keys.py", "from binvault.logic import inputs"),
        ("models/bins.py", "from binvault.dal import records"),
        ("logic/versions.py", "from binvault.handlers import api"),
        ("dal/client.py", "from binvault.local import stack"),
    ],
)
def test_an_upward_import_breaks_the_lint(tree: Path, module: str, upward: str) -> None:
    path = tree / "src" / "binvault" / module
    path.write_text(path.read_text() + f"\n{upward}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "BROKEN" in result.stdout


@pytest.mark.parametrize(
    ("module", "back"),
    [
        # logic/bins imports logic/schema_docs: the other way round closes a cycle (it once did)
        ("logic/schema_docs.py", "from binvault.logic import bins"),
        # dal/bins imports dal/records
        ("dal/records.py", "from binvault.dal import bins"),
    ],
)
def test_a_cycle_inside_one_layer_breaks_the_lint(tree: Path, module: str, back: str) -> None:
    # Given an import that points sideways, back at a module of the same layer that imports this one
    path = tree / "src" / "binvault" / module
    path.write_text(path.read_text() + f"\n{back}  # noqa\n")
    # Then the layers contract alone would not see it, the acyclic-siblings contract does
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "No cycles are allowed in" in result.stdout
    assert "Layers point down" in result.stdout and "KEPT" in result.stdout
