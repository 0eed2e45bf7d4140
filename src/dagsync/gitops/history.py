"""Commits as data: one `git log` run parsed into `Commit` records (files, trailers, parents).

Trailers come from git's own trailer parser (`%(trailers:only,unfold)`, the same code as
`git interpret-trailers --parse`): only the last paragraph of the message counts, folded
lines are unfolded, and several trailers with the same key are all kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dagsync.gitops.repo import GitRepo, run

_RECORD, _FIELD, _TRAILER, _KEY_VALUE = "\x1e", "\x1f", "\x1c", "\x1d"
_FORMAT = (
    _RECORD
    + _FIELD.join(
        [
            "%H",
            "%h",
            "%P",
            "%an",
            "%ae",
            "%aI",
            "%cI",
            "%s",
            "%(trailers:only,unfold,separator=%x1c,key_value_separator=%x1d)",
            "%B",
        ]
    )
    + _FIELD
)
_FIELDS = 10


@dataclass(frozen=True)
class FileChange:
    """One file of a commit: status letter (A, M, D, R, C, T), path, and the old path of a
    rename or copy."""

    status: str
    path: str
    old_path: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,) if self.old_path is None else (self.old_path, self.path)

    def as_json(self) -> dict[str, str | None]:
        return {"status": self.status, "path": self.path, "old_path": self.old_path}


@dataclass(frozen=True)
class Commit:
    """One commit of the history, with the files it changed against its first parent."""

    sha: str
    short: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str  # ISO 8601 with offset
    commit_date: str
    subject: str
    trailers: tuple[tuple[str, str], ...]
    message: str
    files: tuple[FileChange, ...] = field(default=())

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"

    def trailer_values(self, key: str) -> tuple[str, ...]:
        """The values of every trailer named `key` (compared case-insensitively)."""
        wanted = key.lower()
        return tuple(value for name, value in self.trailers if name.lower() == wanted)


def log(
    repo: GitRepo, *revs: str, paths: Sequence[str] = (), options: Sequence[str] = ()
) -> list[Commit]:
    """`git log` of `revs` (newest first) as `Commit` records; `paths` are root-relative."""
    args = [
        "-c",
        "core.quotePath=false",
        "log",
        "--no-color",
        "--no-show-signature",
        "-z",
        "--name-status",
        "-M",
        f"--format={_FORMAT}",
        *options,
        *revs,
        "--",
    ]
    args.extend(repo.git_path(p) for p in paths)
    return parse_log(run(repo, *args), repo)


def parse_log(output: str, repo: GitRepo) -> list[Commit]:
    """Parse the output of `log` (exposed for tests of odd messages)."""
    return [_commit(chunk, repo) for chunk in output.split(_RECORD)[1:]]


def _commit(chunk: str, repo: GitRepo) -> Commit:
    parts = chunk.split(_FIELD, _FIELDS)
    sha, short, parents, name, email, adate, cdate, subject, trailers, body = parts[:_FIELDS]
    rest = parts[_FIELDS] if len(parts) > _FIELDS else ""
    return Commit(
        sha=sha,
        short=short,
        parents=tuple(parents.split()),
        author_name=name,
        author_email=email,
        author_date=adate,
        commit_date=cdate,
        subject=subject,
        trailers=_trailers(trailers),
        message=body,
        files=parse_name_status(rest, repo),
    )


def _trailers(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in text.split(_TRAILER):
        key, sep, value = item.partition(_KEY_VALUE)
        if sep and key.strip():
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def parse_name_status(text: str, repo: GitRepo) -> tuple[FileChange, ...]:
    """`--name-status -z` output (after a log record or of `git diff`) as file changes."""
    tokens = text.lstrip("\0\n").split("\0")
    changes = []
    i = 0
    while i < len(tokens):
        status = tokens[i].strip()
        if not status:
            i += 1
            continue
        letter = status[0]
        if letter in "RC" and i + 2 < len(tokens):
            changes.extend(_moved(letter, repo.rel(tokens[i + 1]), repo.rel(tokens[i + 2])))
            i += 3
            continue
        path = repo.rel(tokens[i + 1]) if i + 1 < len(tokens) else None
        i += 2
        if path is not None:
            changes.append(FileChange(letter, path))
    return tuple(changes)


def _moved(letter: str, old: str | None, new: str | None) -> list[FileChange]:
    """A rename or copy; seen from the configuration root, one side may fall outside it."""
    if old is not None and new is not None:
        return [FileChange(letter, new, old)]
    if new is not None:
        return [FileChange("A", new)]
    if old is not None and letter == "R":
        return [FileChange("D", old)]
    return []
