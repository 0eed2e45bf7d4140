"""`dagsync audit CLIENT`: who changed what, on whose request, merged how, applied when.

Everything comes from git: commits touching `clients/<id>/` (with `--full-history`, so a
change reverted on its branch still shows), their trailers, the client's `requests.yaml` at
each commit, the merge that landed each commit (and its PR number), and the apply records
of `refs/notes/dagsync` on the first commit at or after that landing that applied the client.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.gitops.history import Commit, log
from dagsync.gitops.merges import Landings, landings
from dagsync.gitops.notes import ApplyRecord, noted_commits, read_note
from dagsync.gitops.repo import GitRepo, open_repo, resolve
from dagsync.gitops.requestbook import RequestBook, RequestEntry, RequestsAt
from dagsync.gitops.trailers import Citations, citations, verdict

NO_REQUEST, NO_COMMIT, NOT_APPLIED, INTERNAL = "no-request", "no-commit", "not-applied", "internal"
CHECK_FAILED = "check-failed"


class UnknownClientError(DagsyncError):
    """The client has no folder and no history in this repository."""


@dataclass(frozen=True)
class MergeInfo:
    """The first-parent commit that landed a commit, when it is not the commit itself, or
    the commit itself when it carries a PR number (squash merge)."""

    sha: str
    short: str
    pr: int | None
    merged_by: str
    date: str
    is_merge: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.sha,
            "short": self.short,
            "pr": self.pr,
            "merged_by": self.merged_by,
            "date": self.date,
            "is_merge": self.is_merge,
        }


@dataclass(frozen=True)
class AuditCommit:
    """One commit of the client's history with everything that explains it."""

    commit: Commit
    cited: Citations
    requests: tuple[RequestEntry, ...]  # cited requests found in this client's requests.yaml
    merge: MergeInfo | None
    applied_at: str | None  # the commit whose note holds the apply records
    applies: tuple[ApplyRecord, ...]
    problems: tuple[str, ...]  # what check-commits says about the commit (for this client)
    flags: tuple[str, ...]
    # A newer commit of the client that the same apply covered: the records are shown there
    # (each record once), this commit only names it.
    applied_with: str | None = None

    def as_json(self) -> dict[str, Any]:
        c = self.commit
        return {
            "commit": c.sha,
            "short": c.short,
            "date": c.author_date,
            "author": c.author,
            "subject": c.subject,
            "requests": [{"id": r.id, "summary": r.summary} for r in self.requests],
            "cited": list(self.cited.requests),
            "internal": self.cited.internal,
            "reason": self.cited.reason,
            "merge": self.merge.as_json() if self.merge else None,
            "pr": self.merge.pr if self.merge else None,
            "files": [f.as_json() for f in c.files],
            "applied_at": self.applied_at,
            "applies": [] if self.applied_with else [r.to_json() for r in self.applies],
            "applied_with": self.applied_with,
            "problems": list(self.problems),
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class AuditRequest:
    """One request of the client and the commits (short hashes, newest first) citing it."""

    entry: RequestEntry
    commits: tuple[str, ...]
    flags: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {**self.entry.as_json(), "commits": list(self.commits), "flags": list(self.flags)}


@dataclass(frozen=True)
class Audit:
    """The audit trail of one client (commits newest first)."""

    client: str
    head: str
    since: dt.date | None
    commits: tuple[AuditCommit, ...]
    requests: tuple[AuditRequest, ...]
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "client": self.client,
            "head": self.head,
            "since": self.since.isoformat() if self.since else None,
            "requests": [r.as_json() for r in self.requests],
            "commits": [c.as_json() for c in self.commits],
            "problems": list(self.problems),
        }


def audit(root: Path, client: str, *, since: dt.date | None = None, head: str = "HEAD") -> Audit:
    """The audit trail of `client` in the history of `head`."""
    repo = open_repo(root)
    if not client or "/" in client or client.startswith(".") or client.startswith("-"):
        raise UnknownClientError(
            f"`{client}` is not a client id (the name of a folder of clients/)"
        )
    head_sha = resolve(repo, head)
    history = log(
        repo,
        head_sha,
        paths=[f"clients/{client}/"],
        options=["--full-history", "--no-merges", "--full-diff"],
    )
    if not history and not (repo.root / "clients" / client).is_dir():
        raise UnknownClientError(_unknown(repo.root, client))
    book = RequestBook(repo)
    trail = _Trail(repo, client, landings(repo, head_sha))
    commits = _once(tuple(trail.entry(c, book) for c in history))
    requests = _requests(_current_requests(book, head_sha, client, history), commits)
    return Audit(
        client,
        head_sha,
        since,
        tuple(c for c in commits if _on_or_after(c.commit.author_date, since)),
        _shown_requests(requests, commits, since),
        trail.problems(),
    )


def _once(commits: Sequence[AuditCommit]) -> tuple[AuditCommit, ...]:
    """Each apply's records under the newest commit it applied; older commits that the same
    apply covered name that commit instead of repeating the records (commits newest first)."""
    shown: dict[str, str] = {}  # the applied commit -> the short hash showing its records
    out = []
    for entry in commits:
        at = entry.applied_at
        if at is not None and at in shown:
            out.append(replace(entry, applied_with=shown[at]))
        else:
            if at is not None:
                shown[at] = entry.commit.short
            out.append(entry)
    return tuple(out)


def _unknown(root: Path, client: str) -> str:
    folder = root / "clients"
    known = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    listing = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    return f"unknown client `{client}`: no clients/{client}/ and no history (known: {listing or 'none'})"


def _on_or_after(iso: str, since: dt.date | None) -> bool:
    return since is None or dt.datetime.fromisoformat(iso).date() >= since


class _Trail:
    """Joins commits to their landing and the apply records of the client."""

    def __init__(self, repo: GitRepo, client: str, lands: Landings) -> None:
        self.repo, self.client, self.lands = repo, client, lands
        self.notes = noted_commits(repo)
        self._records: dict[str, tuple[ApplyRecord, ...]] = {}
        self._problems: list[str] = []
        chain_pos = {c.sha: i for i, c in enumerate(lands.chain)}
        self.applied_positions = sorted(
            chain_pos[sha] for sha in self.notes if sha in chain_pos and self.records(sha)
        )

    def records(self, sha: str) -> tuple[ApplyRecord, ...]:
        if sha not in self._records:
            blob = self.notes.get(sha)
            found: tuple[ApplyRecord, ...] = ()
            if blob:
                content = read_note(self.repo, blob, sha[:10])
                self._problems.extend(f"note on {sha[:10]}: {p}" for p in content.problems)
                found = tuple(r for r in content.records if r.client == self.client)
            self._records[sha] = found
        return self._records[sha]

    def problems(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._problems))

    def merge(self, commit: Commit) -> MergeInfo | None:
        landing = self.lands.of(commit.sha)
        if landing is None or (not landing.via_merge and landing.pr is None):
            return None
        chain = landing.chain
        return MergeInfo(
            chain.sha, chain.short, landing.pr, chain.author, chain.date, chain.is_merge
        )

    def applied(self, commit: Commit) -> tuple[str | None, tuple[ApplyRecord, ...]]:
        own = self.records(commit.sha)
        if own:
            return commit.sha, own
        landing = self.lands.of(commit.sha)
        if landing is None:
            return None, ()
        index = bisect.bisect_right(self.applied_positions, landing.position) - 1
        if index < 0:
            return None, ()
        sha = self.lands.chain[self.applied_positions[index]].sha
        return sha, self.records(sha)

    def entry(self, commit: Commit, book: RequestBook) -> AuditCommit:
        parent = commit.parents[0] if commit.parents else None
        mine = book.at_or_before(commit.sha, parent, [self.client])[self.client]
        cited = citations(commit)
        found = tuple(e for r in cited.requests if (e := mine.get(r)) is not None)
        checked = verdict(commit, book)
        # Only what concerns this client: a commit that also touches another client and
        # lacks that client's request is flagged in the other client's audit, not here.
        others = tuple(f"{c}: " for c in (checked.clients if checked else ()) if c != self.client)
        problems = tuple(
            p for p in (checked.problems if checked else ()) if not p.startswith(others)
        )
        applied_at, applies = self.applied(commit)
        flags = _commit_flags(cited, found, applies, problems)
        return AuditCommit(
            commit,
            cited,
            found,
            self.merge(commit),
            applied_at,
            applies,
            problems,
            flags,
        )


def _commit_flags(
    cited: Citations,
    found: Sequence[RequestEntry],
    applies: Sequence[ApplyRecord],
    problems: Sequence[str],
) -> tuple[str, ...]:
    flags = []
    if cited.internal:
        flags.append(INTERNAL)
    elif not found:
        flags.append(NO_REQUEST)
    if problems:
        flags.append(CHECK_FAILED)
    if not applies:
        flags.append(NOT_APPLIED)
    return tuple(flags)


def _current_requests(
    book: RequestBook, head: str, client: str, history: Sequence[Commit]
) -> RequestsAt:
    """requests.yaml at HEAD, or its last version if the client was deleted."""
    current = book.at(head, [client])[client]
    for commit in history:
        if current.exists:
            break
        parent = commit.parents[0] if commit.parents else None
        current = book.at_or_before(commit.sha, parent, [client])[client]
    return current


def _requests(current: RequestsAt, commits: Sequence[AuditCommit]) -> tuple[AuditRequest, ...]:
    """Every request of the client (current file, plus any cited one since removed)."""
    entries = {e.id: e for c in reversed(commits) for e in c.requests}
    entries.update({e.id: e for e in current.entries})
    out = []
    for entry in sorted(entries.values(), key=lambda e: (e.date, e.id), reverse=True):
        citing = tuple(c.commit.short for c in commits if entry.id in {r.id for r in c.requests})
        out.append(AuditRequest(entry, citing, () if citing else (NO_COMMIT,)))
    return tuple(out)


def _shown_requests(
    requests: Sequence[AuditRequest], commits: Sequence[AuditCommit], since: dt.date | None
) -> tuple[AuditRequest, ...]:
    if since is None:
        return tuple(requests)
    shown = {c.commit.short for c in commits if _on_or_after(c.commit.author_date, since)}
    return tuple(r for r in requests if r.entry.date >= since.isoformat() or set(r.commits) & shown)
