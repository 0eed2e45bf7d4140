"""Which clients changed between a revision and the working tree (`validate --changed-since`).

The comparison starts at the merge base of REV and HEAD, as a pull request's diff does: on a
branch, `--changed-since origin/main` covers the branch's changes, not what main gained since.
Uncommitted and untracked (not ignored) files count: the working tree is what gets validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagsync.gitops.history import FileChange, parse_name_status
from dagsync.gitops.repo import GitError, GitRepo, merge_base, open_repo, resolve, run

CLIENTS = "clients/"
POLICIES = "policies/"
_LISTED = 10


def client_of(rel: str) -> str | None:
    """The client id of a root-relative path `clients/<id>/...`, else None."""
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == "clients" and parts[1]:
        return parts[1]
    return None


def clients_of(files: Iterable[FileChange]) -> tuple[str, ...]:
    """Every client a set of file changes touches (both sides of a rename), sorted."""
    ids = {c for f in files for p in f.paths if (c := client_of(p)) is not None}
    return tuple(sorted(ids))


@dataclass(frozen=True)
class ClientChanges:
    """The clients touched since a revision.

    `present` is what to validate or apply: the touched clients that still exist in the
    working tree, or every client when `policies/` changed (the rules read it).
    """

    rev: str
    base: str
    via_merge_base: bool
    touched: tuple[str, ...]
    present: tuple[str, ...]
    deleted: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]
    policies_changed: bool
    files: tuple[FileChange, ...]

    def describe(self) -> str:
        """One sentence: which clients this covers and which were deleted."""
        since = f"since {self.rev}" + (
            f" (merge base {self.base[:10]})" if self.via_merge_base else ""
        )
        if self.policies_changed:
            head = f"policies/ changed {since}: every client ({len(self.present)}) is covered"
        elif self.present:
            head = f"{len(self.present)} client(s) changed {since}: {_listing(self.present)}"
        else:
            head = f"no client changed {since}"
        parts = [head]
        for old, new in self.renamed:
            parts.append(f"{old} was renamed to {new}")
        gone = [c for c in self.deleted if c not in {old for old, _ in self.renamed}]
        if gone:
            parts.append(f"deleted (nothing left to validate): {_listing(gone)}")
        return "; ".join(parts) + "; plus every repository-wide invariant."

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rev": self.rev,
            "base": self.base,
            "touched": list(self.touched),
            "present": list(self.present),
            "deleted": list(self.deleted),
            "renamed": [list(pair) for pair in self.renamed],
            "policies_changed": self.policies_changed,
            "files": [f.as_json() for f in self.files],
        }


def _listing(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_LISTED])
    return shown + (f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else "")


def changed_clients(root: Path, rev: str) -> ClientChanges:
    """The clients touched between `rev` (its merge base with HEAD) and the working tree.

    Raises GitError (a DagsyncError) for a revision the repository does not have.
    """
    repo = open_repo(root)
    base, via = _base(repo, rev)
    files = (*_diff(repo, base), *_untracked(repo))
    return summarize(repo.root, rev, base, via, files)


def summarize(
    root: Path, rev: str, base: str, via: bool, files: Sequence[FileChange]
) -> ClientChanges:
    """Sort file changes into clients present, deleted and renamed (pure but for `is_dir`)."""
    touched = clients_of(files)
    exists = {c: (root / "clients" / c).is_dir() for c in touched}
    policies = any(p.startswith(POLICIES) for f in files for p in f.paths)
    present = _all_clients(root) if policies else tuple(c for c in touched if exists[c])
    return ClientChanges(
        rev=rev,
        base=base,
        via_merge_base=via,
        touched=touched,
        present=present,
        deleted=tuple(c for c in touched if not exists[c]),
        renamed=_renamed(files, exists),
        policies_changed=policies,
        files=tuple(files),
    )


def _all_clients(root: Path) -> tuple[str, ...]:
    folder = root / "clients"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir())) if folder.is_dir() else ()


def _renamed(files: Sequence[FileChange], exists: dict[str, bool]) -> tuple[tuple[str, str], ...]:
    pairs = set()
    for f in files:
        if f.status == "R" and f.old_path is not None:
            old, new = client_of(f.old_path), client_of(f.path)
            if old and new and old != new and not exists.get(old, False):
                pairs.add((old, new))
    return tuple(sorted(pairs))


def _base(repo: GitRepo, rev: str) -> tuple[str, bool]:
    """The commit (or tree, e.g. the empty tree) to compare with, and whether it is a merge base."""
    try:
        commit = resolve(repo, rev)
    except GitError as not_a_commit:
        try:
            return resolve(repo, rev, kind="tree"), False
        except GitError:
            raise not_a_commit from None
    try:
        head = resolve(repo, "HEAD")
    except GitError:
        return commit, False
    base = merge_base(repo, commit, head) or commit
    return base, base != commit


def _diff(repo: GitRepo, base: str) -> tuple[FileChange, ...]:
    scope = [repo.prefix] if repo.prefix else []
    out = run(
        repo,
        "-c",
        "core.quotePath=false",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--name-status",
        "-M",
        "-z",
        base,
        "--",
        *scope,
    )
    return parse_name_status(out, repo)


def _untracked(repo: GitRepo) -> tuple[FileChange, ...]:
    out = run(
        repo, "ls-files", "--others", "--exclude-standard", "-z", "--", repo.git_path("clients")
    )
    return tuple(FileChange("A", rel) for raw in out.split("\0") if raw and (rel := repo.rel(raw)))
