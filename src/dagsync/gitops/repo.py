"""The GitPython boundary: open the repository, run git, read a file at a commit.

Every git call of dagsync goes through `run` so that a git failure becomes a `GitError`
(a `DagsyncError`: a message and exit code 2, never a traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from dagsync.errors import DagsyncError


class GitError(DagsyncError):
    """Git cannot answer: not a repository, an unknown revision, a failing git command."""


@dataclass(frozen=True)
class GitRepo:
    """An open git repository and where the configuration repository sits inside it."""

    repo: git.Repo
    root: Path  # the configuration repository (holds clients/ and policies/)
    prefix: str  # root relative to the git top level, "" or "config/" (with a slash)

    def rel(self, git_path: str) -> str | None:
        """A top-level-relative git path as a root-relative path; None if outside the root."""
        if not git_path.startswith(self.prefix):
            return None
        return git_path[len(self.prefix) :]

    def git_path(self, rel: str) -> str:
        return self.prefix + rel


def open_repo(root: Path) -> GitRepo:
    """The git repository holding the configuration repository `root`."""
    root = root.resolve()
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(f"{root} is not inside a git repository: dagsync needs its history") from exc
    top = repo.working_tree_dir
    if top is None:
        raise GitError(f"{root} is a bare git repository: dagsync needs a working tree")
    prefix = root.relative_to(Path(top).resolve()).as_posix()
    return GitRepo(repo, root, "" if prefix == "." else prefix + "/")


def run(repo: GitRepo, *args: str) -> str:
    """Run `git ARGS` in the repository; its standard output, decoded leniently."""
    try:
        out = repo.repo.git.execute(
            ["git", *args], stdout_as_string=False, strip_newline_in_stdout=False
        )
    except git.GitCommandError as exc:
        stderr = exc.stderr.strip() if isinstance(exc.stderr, str) else str(exc.stderr)
        stderr = stderr.removeprefix("stderr: ").strip("'\n ")
        raise GitError(f"git {args[0]} failed: {stderr or exc}") from exc
    raw = out if isinstance(out, bytes) else str(out).encode()
    return raw.decode("utf-8", errors="replace")


def resolve(repo: GitRepo, rev: str, *, kind: str = "commit") -> str:
    """The full object name of `rev` (a commit, or with kind="tree" any tree-ish)."""
    if not rev or rev.startswith("-"):
        raise GitError(f"`{rev}` is not a revision")
    try:
        return run(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{{kind}}}").strip()
    except GitError as exc:
        raise GitError(
            f"unknown revision `{rev}`: not a {kind} of this repository{_hint(repo)}"
        ) from exc


def _hint(repo: GitRepo) -> str:
    try:
        shallow = run(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
    except GitError:
        shallow = False
    if not shallow:
        return ""
    return (
        " (this clone is shallow: fetch the history, e.g. `actions/checkout` with "
        "`fetch-depth: 0`, or `git fetch --unshallow origin`)"
    )


def merge_base(repo: GitRepo, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None (unrelated or shallow history)."""
    try:
        return run(repo, "merge-base", a, b).strip() or None
    except GitError:
        return None


def read_blob(repo: GitRepo, sha: str) -> str:
    """The text of a blob by name (uses GitPython's persistent `git cat-file`)."""
    try:
        data: bytes = repo.repo.odb.stream(bytes.fromhex(sha)).read()
    except (ValueError, git.BadObject) as exc:
        raise GitError(f"cannot read git object {sha}") from exc
    return data.decode("utf-8", errors="replace")
