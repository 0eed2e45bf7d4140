"""How commits landed on the branch: the merge commit that brought each in, and its PR number.

Walking the first-parent chain of HEAD from the oldest commit, each chain commit "lands" the
commits newly reachable through its other parents; a commit on the chain lands itself (a
direct push, a squash merge, or a rebase merge). GitHub writes "Merge pull request #N from ..."
as the subject of a merge and "Subject (#N)" for a squash merge: both give the PR number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dagsync.gitops.repo import GitRepo, run

_MERGE_PR = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")


def pr_number(subject: str, *, merge: bool) -> int | None:
    """The pull request number in a GitHub merge or squash-merge subject."""
    found = (_MERGE_PR if merge else _SQUASH_PR).search(subject)
    if found is None and merge:
        found = _SQUASH_PR.search(subject)  # a merge queue or a hand-written "... (#N)"
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class ChainCommit:
    """A commit of HEAD's first-parent chain."""

    sha: str
    short: str
    parents: tuple[str, ...]
    subject: str
    author: str
    date: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class Landing:
    """Where a commit entered the branch: itself or a merge, with a PR number if known."""

    chain: ChainCommit  # the first-parent commit that brought it in
    position: int  # index on the chain, 0 = HEAD
    via_merge: bool

    @property
    def pr(self) -> int | None:
        return pr_number(self.chain.subject, merge=self.chain.is_merge)


@dataclass(frozen=True)
class Landings:
    """HEAD's first-parent chain (newest first) and, for every reachable commit, its landing."""

    chain: tuple[ChainCommit, ...]
    landed_by: dict[str, int]  # commit -> chain position

    def of(self, sha: str) -> Landing | None:
        position = self.landed_by.get(sha)
        if position is None:
            return None
        chain = self.chain[position]
        return Landing(chain, position, via_merge=chain.sha != sha)


def landings(repo: GitRepo, head: str) -> Landings:
    """Compute the landing of every commit reachable from `head` (two git calls, linear)."""
    chain = _chain(repo, head)
    graph = _graph(repo, head)
    landed_by: dict[str, int] = {}
    for position in range(len(chain) - 1, -1, -1):
        commit = chain[position]
        landed_by[commit.sha] = position
        stack = list(commit.parents[1:])
        while stack:
            sha = stack.pop()
            if sha in landed_by:
                continue
            landed_by[sha] = position
            stack.extend(graph.get(sha, ()))
    return Landings(tuple(chain), landed_by)


def _chain(repo: GitRepo, head: str) -> list[ChainCommit]:
    out = run(
        repo,
        "log",
        "--first-parent",
        "--no-color",
        "--no-show-signature",
        "--format=%H%x1f%h%x1f%P%x1f%s%x1f%an <%ae>%x1f%aI%x1e",
        head,
    )
    chain = []
    for record in out.split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 6:
            sha, short, parents, subject, author, date = fields
            chain.append(ChainCommit(sha, short, tuple(parents.split()), subject, author, date))
    return chain


def _graph(repo: GitRepo, head: str) -> dict[str, tuple[str, ...]]:
    out = run(repo, "rev-list", "--parents", head)
    graph = {}
    for line in out.splitlines():
        sha, *parents = line.split()
        graph[sha] = tuple(parents)
    return graph
