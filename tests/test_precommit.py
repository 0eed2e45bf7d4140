"""pre-commit (issue 2, point 8): the `dagsync-validate` hook this repository exposes, and the
repository's own offline hook configuration, run for real in a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from conftest import PROJECT, copy_repository

SHOP1 = "clients/alpine-books/servers/shop1.yaml"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def test_hooks_file_exposes_dagsync_validate() -> None:
    [hook] = _yaml(PROJECT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "dagsync-validate"
    assert hook["entry"] == "dagsync validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    assert hook["files"] == "^(clients|policies)/"


def test_config_uses_the_hook_and_ruff_offline() -> None:
    config = _yaml(PROJECT / ".pre-commit-config.yaml")
    assert [r["repo"] for r in config["repos"]] == ["local"]
    hooks = {h["id"]: h for h in config["repos"][0]["hooks"]}
    assert {"dagsync-validate", "ruff", "ruff-format"} <= set(hooks)
    assert all(h["language"] == "system" for h in hooks.values())
    [exposed] = _yaml(PROJECT / ".pre-commit-hooks.yaml")
    for key in ("entry", "files", "pass_filenames", "require_serial"):
        assert hooks["dagsync-validate"][key] == exposed[key], key


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


def _pre_commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # this environment's dagsync and ruff
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_HOME": str(home),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(Path(bin_dir) / "pre-commit"), "run", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None or not Path(sys.executable).with_name("pre-commit").exists():
        pytest.skip("git and pre-commit are needed")
    repo = copy_repository(tmp_path / "repo")
    for name in (".pre-commit-config.yaml", ".pre-commit-hooks.yaml", "pyproject.toml"):
        shutil.copy(PROJECT / name, repo / name)
    (repo / "tools").mkdir()
    (repo / "tools/hello.py").write_text('"""A tidy module."""\n\nGREETING = "bonjour"\n')
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    return repo


def test_pre_commit_passes_then_fails_on_a_broken_client(git_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    clean = _pre_commit(git_repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "dagsync validate" in clean.stdout and "ruff check" in clean.stdout
    assert "Failed" not in clean.stdout

    shop1 = git_repo / SHOP1
    shop1.write_text(shop1.read_text().replace("role: production", "role: prod"))
    _git(git_repo, "add", "-A")
    broken = _pre_commit(git_repo, home)
    assert broken.returncode == 1
    assert "Traceback" not in broken.stdout + broken.stderr
    hook_line = next(line for line in broken.stdout.splitlines() if "dagsync validate" in line)
    assert hook_line.endswith("Failed")
    assert f"{SHOP1}\n  3:7: error SCH002 `role`" in broken.stdout
