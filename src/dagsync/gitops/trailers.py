"""Commit trailers that tie a change to a client's request, and `dagsync check-commits`.

A commit that touches `clients/<id>/` must end with trailers such as

    Client-Request: REQ-2025-014

naming a request that exists in that client's `requests.yaml` *at that commit* (a commit
touching two clients cites a request of each), or

    Client-Request: internal
    Reason: rotate the monitoring key after the supplier incident

for work DAG does on its own initiative.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagsync.gitops.changes import clients_of
from dagsync.gitops.history import Commit, log
from dagsync.gitops.repo import GitError, GitRepo, open_repo, resolve
from dagsync.gitops.requestbook import ABSENT, RequestBook, RequestsAt
from dagsync.model.base import REQUEST_ID_PATTERN

CLIENT_REQUEST = "Client-Request"
REASON = "Reason"
INTERNAL = "internal"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_LOOSE = re.compile(rf"^\s*{CLIENT_REQUEST}\s*:", re.IGNORECASE | re.MULTILINE)
_HOW = (
    f"end the message with a `{CLIENT_REQUEST}: <request id>` trailer (or "
    f"`{CLIENT_REQUEST}: {INTERNAL}` with `{REASON}: ...`)"
)


@dataclass(frozen=True)
class Citations:
    """What a commit's trailers cite: request ids, `internal`, its reason, malformed values."""

    requests: tuple[str, ...]
    internal: bool
    reason: str | None
    malformed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.requests or self.internal or self.malformed)


def citations(commit: Commit) -> Citations:
    """Read the Client-Request and Reason trailers (several allowed; commas split values)."""
    values = [
        v.strip()
        for raw in commit.trailer_values(CLIENT_REQUEST)
        for v in raw.split(",")
        if v.strip()
    ]
    internal = any(v.lower() == INTERNAL for v in values)
    ids = tuple(dict.fromkeys(v for v in values if _REQUEST_ID.match(v)))
    malformed = tuple(v for v in values if v.lower() != INTERNAL and not _REQUEST_ID.match(v))
    reasons = [r for r in commit.trailer_values(REASON) if r.strip()]
    return Citations(ids, internal, "; ".join(reasons) or None, malformed)


def judge(commit: Commit, cited: Citations, known: dict[str, RequestsAt]) -> tuple[str, ...]:
    """What is wrong with how `commit` cites requests of the clients in `known` (id -> requests
    at that commit). Empty when the commit is properly backed."""
    problems = [
        f"`{v}` is neither a request id (REQ-YYYY-NNN) nor `{INTERNAL}`" for v in cited.malformed
    ]
    if cited.internal and cited.reason is None:
        problems.append(f"`{CLIENT_REQUEST}: {INTERNAL}` needs a `{REASON}:` trailer saying why")
    everywhere = frozenset().union(*(r.ids for r in known.values()))
    for request_id in cited.requests:
        if request_id not in everywhere:
            problems.append(
                f"{request_id} is not in requests.yaml of {_names(known)} at {commit.short}"
            )
    if not cited.internal:
        problems.extend(_uncovered(commit, cited, known))
    return tuple(problems)


def _uncovered(commit: Commit, cited: Citations, known: dict[str, RequestsAt]) -> list[str]:
    problems = []
    for client, requests in sorted(known.items()):
        if requests.ids & set(cited.requests):
            continue
        if cited.empty:
            hint = ""
            if _LOOSE.search(commit.message):
                hint = " (a Client-Request line is there, but not in the last paragraph: trailers must close the message)"
            problems.append(f"{client}: no {CLIENT_REQUEST} trailer{hint}; {_HOW}")
        else:
            problems.append(f"{client}: no {CLIENT_REQUEST} names a request of this client")
        if requests.problem:
            problems.append(f"{client}: requests.yaml at {commit.short} {requests.problem}")
    return problems


def _names(known: dict[str, RequestsAt]) -> str:
    return ", ".join(sorted(known)) or "no client"


@dataclass(frozen=True)
class CommitVerdict:
    """One commit that touches clients, and what its trailers lack (nothing when fine)."""

    sha: str
    short: str
    subject: str
    author: str
    clients: tuple[str, ...]
    cited: Citations
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.sha,
            "short": self.short,
            "subject": self.subject,
            "author": self.author,
            "clients": list(self.clients),
            "requests": list(self.cited.requests),
            "internal": self.cited.internal,
            "reason": self.cited.reason,
            "ok": self.ok,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class CommitsCheck:
    """The result of `check-commits` over a revision range."""

    rev_range: str
    verdicts: tuple[CommitVerdict, ...]  # commits touching clients, newest first

    @property
    def offending(self) -> tuple[CommitVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def exit_code(self) -> int:
        return 1 if self.offending else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "range": self.rev_range,
            "commits": [v.as_json() for v in self.verdicts],
            "summary": {"checked": len(self.verdicts), "offending": len(self.offending)},
        }


def verdict(commit: Commit, book: RequestBook) -> CommitVerdict | None:
    """Judge one non-merge commit; None when it touches no client."""
    clients = clients_of(commit.files)
    if not clients:
        return None
    cited = citations(commit)
    if cited.internal and not cited.requests:
        known = dict.fromkeys(clients, ABSENT)  # nothing to look up (a mass change, often)
    else:
        parent = commit.parents[0] if commit.parents else None
        known = book.at_or_before(commit.sha, parent, clients)
    return CommitVerdict(
        commit.sha,
        commit.short,
        commit.subject,
        commit.author,
        clients,
        cited,
        judge(commit, cited, known),
    )


def check_commits(root: Path, rev_range: str) -> CommitsCheck:
    """Check every non-merge commit of `rev_range` (as `git log` reads it, e.g. `main..HEAD`)."""
    repo = open_repo(root)
    return check_history(repo, rev_range, _log_range(repo, rev_range))


def check_history(repo: GitRepo, rev_range: str, commits: Sequence[Commit]) -> CommitsCheck:
    book = RequestBook(repo)
    verdicts = (verdict(c, book) for c in commits if not c.is_merge)
    return CommitsCheck(rev_range, tuple(v for v in verdicts if v is not None))


def _log_range(repo: GitRepo, rev_range: str) -> list[Commit]:
    ends = [e for e in re.split(r"\.\.\.?", rev_range) if e] if rev_range else []
    if not ends or rev_range.startswith("-"):
        raise GitError(f"`{rev_range}` is not a revision range (e.g. origin/main..HEAD)")
    for end in ends:
        resolve(repo, end)
    return log(repo, rev_range, options=["--no-merges"])
