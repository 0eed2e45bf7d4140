"""Scratch git repositories for the gitops tests: real commits, branches, merges and notes.

Not a test module by itself: the `test_gitops_*` modules import `Scratch` from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
START = 1_760_000_000  # 2025-10-09, the scratch clock: each commit one day later


def isolate_git(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No user or system git configuration leaks in; a fixed identity."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Jean Dupont")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "jean.dupont@dag.example")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Jean Dupont")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "jean.dupont@dag.example")
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.delenv("DAGSYNC_ACTOR", raising=False)


class Scratch:
    """A configuration repository under git in a temporary folder."""

    def __init__(self, root: Path, top: Path | None = None) -> None:
        self.root = root  # holds clients/ and policies/
        self.top = top or root  # the git top level
        self.clock = START

    @classmethod
    def create(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, sub: str = "") -> Scratch:
        """The example clients and policies, committed once as `internal` seed work."""
        isolate_git(monkeypatch, tmp_path)
        top = tmp_path / "repo"
        root = top / sub if sub else top
        root.mkdir(parents=True)
        for folder in ("clients", "policies", "schemas"):
            shutil.copytree(PROJECT / folder, root / folder)
        (top / ".gitignore").write_text(".dagsync-cache/\n")
        scratch = cls(root, top)
        scratch.git("init", "-q", "-b", "main")
        scratch.commit("Seed the configuration\n\nClient-Request: internal\nReason: initial import")
        return scratch

    def git(self, *args: str, when: int | None = None, check: bool = True) -> str:
        """Run git in the repository (stdout and stderr together when check is False)."""
        env = dict(os.environ)
        stamp = f"@{when or self.clock} +0200"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        done = subprocess.run(
            ["git", *args], cwd=self.top, env=env, capture_output=True, text=True, check=False
        )
        if check and done.returncode:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip() if check else done.stdout + done.stderr

    def tick(self) -> int:
        self.clock += 86400
        return self.clock

    def commit(self, message: str, *, author: str | None = None) -> str:
        """Stage everything and commit; the new commit's full hash."""
        self.git("add", "-A")
        extra = [f"--author={author}"] if author else []
        self.git("commit", "-q", "--allow-empty", "-m", message, *extra, when=self.tick())
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str, *, author: str | None = None) -> str:
        """A --no-ff merge of `branch` into the current branch, as GitHub's merge button does."""
        env_author = [f"--author={author}"] if author else []
        self.git("merge", "-q", "--no-ff", "-m", message, branch, when=self.tick())
        if env_author:
            self.git("commit", "-q", "--amend", "--no-edit", *env_author, when=self.clock)
        return self.git("rev-parse", "HEAD")

    def short(self, sha: str) -> str:
        return self.git("rev-parse", "--short", sha)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def touch(self, client: str, note: str = "touched") -> None:
        """Change a client without changing what it means: add a YAML comment."""
        path = self.path(f"clients/{client}/client.yaml")
        path.write_text(path.read_text() + f"# {note} {self.clock}\n")

    def add_request(self, client: str, request_id: str, summary: str) -> None:
        path = self.path(f"clients/{client}/requests.yaml")
        path.write_text(
            path.read_text() + f"  - id: {request_id}\n    date: 2025-10-01\n    channel: email\n"
            f"    author: Someone\n    summary: {summary}\n"
        )
