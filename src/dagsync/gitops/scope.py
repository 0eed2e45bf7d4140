"""The apply scope: every target whose desired state differs from what was last applied to it.

Each apply record keeps, per target it applied wholly and successfully, the digest of that
target's desired state at the applied commit (`dagsync.reconcile.digests`).  The scope at
HEAD is every target

- whose digest now differs from the digest of its last successful apply, whatever changed
  it (its client's files, `policies/`, DAG's settings, another client's network-wide
  blocklist, a server moving to another storage host...);
- or whose latest apply did not succeed (failed, interrupted, skipped): it stays in scope
  until an apply of it succeeds; a successful re-run clears it;
- or that was never applied with a digest: compared with the fallback revision (CI gives the
  push's "before"), or in scope when there is none.

Only records on commits of HEAD's history count, newest (by finish time) first.  For a pull
request (`between`), the scope is every target whose digest differs between the merge base
with the base branch and the working tree.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DagsyncError
from .notes import SUCCESS, noted_commits, read_note
from .repo import GitError, GitRepo, merge_base, open_repo, resolve, run

_LISTED = 10


@dataclass(frozen=True)
class Applied:
    """One target's entry in one apply record."""

    result: str
    digest: str | None
    commit: str
    finished_at: dt.datetime


@dataclass(frozen=True)
class History:
    """Per target key: its latest apply entry and its latest successful one with a digest."""

    latest: Mapping[str, Applied] = field(default_factory=dict)
    success: Mapping[str, Applied] = field(default_factory=dict)


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


# --- what was applied -------------------------------------------------------------------------


def history(repo: GitRepo, head: str) -> History:
    """Every apply entry recorded on a commit of `head`'s history, per target.

    "Latest" is by history, not by clocks (runners' clocks differ): an entry on a newer
    commit is later than one on an older commit, and within one note a record appended
    later is later (notes are append-only; the CI's record job keeps their order).
    """
    noted = noted_commits(repo)
    if not noted:
        return History()
    ancestors = run(repo, "rev-list", "--topo-order", head).split()
    latest: dict[str, Applied] = {}
    success: dict[str, Applied] = {}
    for sha in reversed(ancestors):  # oldest first: a later entry replaces an earlier one
        blob = noted.get(sha)
        if blob is None:
            continue
        for record in read_note(repo, blob, sha[:10], in_order=True).records:
            for server in record.servers:
                key = f"{record.client}/{server.server}"
                entry = Applied(server.result, server.digest, sha, record.finished_at)
                latest[key] = entry
                if server.result in SUCCESS and server.digest:
                    success[key] = entry
    return History(latest, success)


# --- the digests of a revision --------------------------------------------------------------


def digests_at(root: Path) -> dict[str, str]:
    """Every target's digest in the configuration at `root` (a work tree or an extract)."""
    from ..reconcile.digests import digests_of

    return digests_of(root)


def digests_of_revision(repo: GitRepo, rev: str) -> dict[str, str]:
    """Every target's digest in the configuration as committed at `rev`."""
    sha = resolve(repo, rev, kind="tree")
    listing = run(
        repo, "ls-tree", "-r", "-z", "--full-tree", sha, "--", *_config_paths(repo)
    ).split("\0")
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


def _config_paths(repo: GitRepo) -> tuple[str, ...]:
    return (repo.git_path("clients"), repo.git_path("policies"))


# --- the scope -------------------------------------------------------------------------------


def since_last_apply(root: Path, fallback: str | None = None, head: str = "HEAD") -> ApplyScope:
    """The targets to apply at `head` (its work tree): see the module docstring."""
    repo = open_repo(root)
    head_sha = resolve(repo, head)
    now = digests_at(repo.root)
    applied = history(repo, head_sha)
    before: dict[str, str] | None = None
    targets = []
    for key, value in now.items():
        latest, success = applied.latest.get(key), applied.success.get(key)
        if latest is not None and latest.result not in SUCCESS:
            reason = f"its last apply, at {latest.commit[:10]}, was {latest.result}"
            targets.append(TargetScope(key, value, success.digest if success else None, reason))
        elif success is not None:
            if success.digest != value:
                reason = f"desired state changed since its last apply at {success.commit[:10]}"
                targets.append(TargetScope(key, value, success.digest, reason))
        else:
            if before is None:
                before = digests_of_revision(repo, fallback) if fallback else {}
            old = before.get(key)
            if fallback is None:
                targets.append(TargetScope(key, value, None, "never applied"))
            elif old != value:
                why = "new" if old is None else "desired state changed"
                reason = f"never applied with a digest; {why} since {fallback}"
                targets.append(TargetScope(key, value, old, reason))
    removed = tuple(
        TargetScope(key, None, entry.digest, "gone from the configuration")
        for key, entry in sorted(applied.success.items())
        if key not in now
    )
    return ApplyScope("since-last-apply", head_sha, fallback, len(now), tuple(targets), removed)


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
