"""The apply scope: the targets whose desired state differs from what was applied or merged.

:class:`ApplyScope` lists them (with why, as :class:`TargetScope`) for `dagsync scope` and
CI; the digests of a committed revision (`digests_of_revision`) are compared with the work
tree's.  For a pull request (`between`), the scope is every target whose digest differs
between the merge base with the base branch and the working tree.  The scope since each
target's last apply, from the apply records, is in `dagsync.reconcile.lastapply`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.gitops.repo import GitError, GitRepo, merge_base, open_repo, resolve, run

_LISTED = 10


@dataclass(frozen=True)
class TargetScope:
    """One target in scope, and why."""

    key: str
    digest: str | None  # now; None: the target is gone from the configuration
    applied: str | None  # the digest of its last successful apply (or at the fallback)
    reason: str

    @property
    def client(self) -> str:
        return self.key.split("/", 1)[0]

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.key,
            "client": self.client,
            "digest": self.digest,
            "applied": self.applied,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ApplyScope:
    """The targets to apply (`targets`) and those gone from the configuration (`removed`)."""

    mode: str  # "since-last-apply" or "between"
    head: str
    base: str | None  # the fallback revision, or the merge base for a pull request
    total: int  # targets in the configuration now
    targets: tuple[TargetScope, ...]
    removed: tuple[TargetScope, ...] = ()

    @property
    def clients(self) -> tuple[str, ...]:
        """The `--client` values that reach every target in scope (`dag`: DAG's hosts)."""
        return tuple(sorted({t.client for t in self.targets}))

    def describe(self) -> str:
        if self.mode == "between":
            since = f"between {self.base[:10] if self.base else '?'} and the working tree"
        else:
            since = "since their last successful apply"
        if not self.targets:
            head = f"no target's desired state changed {since} ({self.total} target(s))"
        else:
            keys = [t.key for t in self.targets]
            listed = ", ".join(keys[:_LISTED]) + (
                f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
            )
            clients = ", ".join(self.clients[:_LISTED]) + (
                " ..." if len(self.clients) > _LISTED else ""
            )
            head = (
                f"{len(self.targets)} of {self.total} target(s) to apply {since}, "
                f"for {len(self.clients)} client(s) ({clients}): {listed}"
            )
        if self.removed:
            head += f"; gone from the configuration: {', '.join(t.key for t in self.removed)}"
        return head

    def text(self) -> str:
        """One line per target in scope: key, then why."""
        width = max((len(t.key) for t in self.targets), default=0)
        lines = [f"{t.key:<{width}}  {t.reason}" for t in self.targets]
        return "".join(f"{line}\n" for line in lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "mode": self.mode,
            "head": self.head,
            "base": self.base,
            "total": self.total,
            "clients": list(self.clients),
            "targets": [t.as_json() for t in self.targets],
            "removed": [t.as_json() for t in self.removed],
        }


# --- the digests of a revision --------------------------------------------------------------


def digests_at(root: Path) -> dict[str, str]:
    """Every target's digest in the configuration at `root` (a work tree or an extract)."""
    # lazy: importing it here keeps annotated_types, bcrypt, cryptography (+15) out of this module's load
    from dagsync.reconcile.digestpool import digests_of

    return digests_of(root)


def digests_of_revision(repo: GitRepo, rev: str) -> dict[str, str]:
    """Every target's digest in the configuration as committed at `rev`."""
    sha = resolve(repo, rev, kind="tree")
    listing = run(repo, "ls-tree", "-r", "-z", "--full-tree", sha, "--", *config_paths(repo)).split(
        "\0"
    )
    with tempfile.TemporaryDirectory(prefix="dagsync-scope-") as tmp:
        out = Path(tmp)
        for line in filter(None, listing):
            meta, path = line.split("\t", 1)
            mode, kind, blob = meta.split()
            rel = repo.rel(path)
            if kind != "blob" or rel is None or mode == "120000":
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(repo.repo.odb.stream(bytes.fromhex(blob)).read())
        if not (out / "policies" / "dag.yaml").is_file():
            return {}  # no configuration at that revision (the empty tree, a new repository)
        return digests_at(out)


def config_paths(repo: GitRepo) -> tuple[str, ...]:
    return (repo.git_path("clients"), repo.git_path("policies"))


def between(root: Path, base: str) -> ApplyScope:
    """For a pull request: every target whose digest differs between the merge base of
    `base` and HEAD, and the work tree."""
    repo = open_repo(root)
    try:
        head_sha = resolve(repo, "HEAD")
        base_sha = resolve(repo, base)
    except GitError as exc:
        raise DagsyncError(str(exc)) from exc
    start = merge_base(repo, base_sha, head_sha) or base_sha
    old = digests_of_revision(repo, start)
    now = digests_at(repo.root)
    targets = tuple(
        TargetScope(
            key,
            value,
            old.get(key),
            "new" if key not in old else f"desired state differs from {start[:10]}",
        )
        for key, value in now.items()
        if old.get(key) != value
    )
    removed = tuple(
        TargetScope(key, None, value, "gone from the configuration")
        for key, value in sorted(old.items())
        if key not in now
    )
    return ApplyScope("between", head_sha, start, len(now), targets, removed)
