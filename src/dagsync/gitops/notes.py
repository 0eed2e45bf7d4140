"""Apply records: JSON attached to the applied commit under `refs/notes/dagsync`.

A note holds JSON lines, one record each. Recording appends a line (`git notes append`), so a
re-apply adds a record and never replaces one. JSON lines also make concurrent notes merge
cleanly: two apply jobs that each appended to the same commit are reconciled with
`git notes --ref=dagsync merge -s cat_sort_uniq` (lines concatenated, sorted, deduplicated).

Reading is forgiving, because a note can be edited by hand: JSON lines, a JSON array, or a
pretty-printed object are all read; anything unreadable is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagsync import __version__
from dagsync.errors import DagsyncError
from dagsync.gitops.repo import GitError, GitRepo, open_repo, read_blob, resolve, run

NOTES_REF = "refs/notes/dagsync"
RESULTS = ("ok", "unchanged", "failed", "skipped", "interrupted")
SUCCESS = ("ok", "unchanged")  # a target applied: its digest is what it now is
# Who the notes commit is attributed to when git has no identity configured (a fresh CI
# runner, a container): git refuses to write a note without one.
FALLBACK_NAME = "dagsync"
FALLBACK_EMAIL = "dagsync@localhost"
log = logging.getLogger("dagsync.gitops")


class ApplyRecordError(DagsyncError):
    """An apply record lacks a field or has a value of the wrong kind."""


@dataclass(frozen=True)
class ServerApply:
    """What one apply did on one target (a server, `<server>@ovh`, or a DAG host).

    `digest` is the desired-state digest of the target at the applied commit when this apply
    applied the target wholly (see `dagsync.reconcile.digests`), else None.
    """

    server: str
    result: str  # one of RESULTS
    resources_changed: tuple[str, ...] = ()
    error: str | None = None
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "server": self.server,
            "result": self.result,
            "resources_changed": list(self.resources_changed),
            "error": self.error,
        }
        if self.digest is not None:
            out["digest"] = self.digest
        return out

    @classmethod
    def from_json(cls, data: Any) -> ServerApply:
        if not isinstance(data, Mapping):
            raise ApplyRecordError("each entry of `servers` must be an object")
        result = _text(data, "result")
        if result not in RESULTS:
            raise ApplyRecordError(f"`result` must be one of {', '.join(RESULTS)}, not `{result}`")
        changed = data.get("resources_changed", [])
        if not isinstance(changed, list):
            raise ApplyRecordError("`resources_changed` must be a list")
        error, digest = data.get("error"), data.get("digest")
        if digest is not None and not (isinstance(digest, str) and _is_sha256(digest)):
            raise ApplyRecordError("`digest` must be a sha256 in hexadecimal")
        return cls(
            _text(data, "server"),
            result,
            tuple(str(r) for r in changed),
            None if error is None else str(error),
            digest,
        )


@dataclass(frozen=True)
class ApplyRecord:
    """One run of `dagsync apply` for one client, as recorded against the applied commit."""

    client: str
    servers: tuple[ServerApply, ...]
    started_at: dt.datetime
    finished_at: dt.datetime
    applied_by: str
    dagsync_version: str
    run_url: str | None = None
    format: int = field(default=1)

    @property
    def result(self) -> str:
        """failed if any server failed; interrupted if any was; ok if any changed; else
        unchanged (or skipped)."""
        results = {s.result for s in self.servers}
        for verdict in ("failed", "interrupted", "ok", "unchanged"):
            if verdict in results:
                return verdict
        return "skipped"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "kind": "apply",
            "client": self.client,
            "result": self.result,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "applied_by": self.applied_by,
            "dagsync_version": self.dagsync_version,
            "run_url": self.run_url,
            "servers": [s.to_json() for s in self.servers],
        }

    def to_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any) -> ApplyRecord:
        if not isinstance(data, Mapping):
            raise ApplyRecordError("an apply record must be a JSON object")
        servers = data.get("servers", [])
        if not isinstance(servers, list):
            raise ApplyRecordError("`servers` must be a list")
        run_url = data.get("run_url")
        return cls(
            client=_text(data, "client"),
            servers=tuple(ServerApply.from_json(s) for s in servers),
            started_at=_time(data, "started_at"),
            finished_at=_time(data, "finished_at"),
            applied_by=_text(data, "applied_by"),
            dagsync_version=_text(data, "dagsync_version"),
            run_url=None if run_url is None else str(run_url),
        )


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ApplyRecordError(f"`{key}` is missing or not a non-empty string")
    return value


def _time(data: Mapping[str, Any], key: str) -> dt.datetime:
    raw = _text(data, key)
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApplyRecordError(f"`{key}` is not an ISO 8601 date-time: `{raw}`") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- defaults for a record built by the reconciler ------------------------------------------


def default_actor(repo: GitRepo) -> str:
    """Who runs the apply: the CI actor, else the git identity, else the login name."""
    for var in ("DAGSYNC_ACTOR", "GITHUB_ACTOR"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        ident = run(repo, "var", "GIT_AUTHOR_IDENT").strip()
        return ident.rsplit(" ", 2)[0]  # drop the timestamp and offset
    except GitError:
        pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_run_url() -> str | None:
    """The CI run that applied, when running in GitHub Actions."""
    server, repo, run_id = (
        os.environ.get(v) for v in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def complete(record: Mapping[str, Any], repo: GitRepo) -> ApplyRecord:
    """An ApplyRecord from the reconciler's dict, filling who/version/run when absent."""
    defaults = {
        "applied_by": default_actor(repo),
        "dagsync_version": __version__,
        "run_url": default_run_url(),
    }
    return ApplyRecord.from_json({**defaults, **{k: v for k, v in record.items() if v is not None}})


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteContent:
    """The records read from one note, and what had to be skipped."""

    records: tuple[ApplyRecord, ...]
    problems: tuple[str, ...]


def parse_note(text: str, *, in_order: bool = False) -> NoteContent:
    """Records from a note: JSON lines, a JSON array, or pretty-printed objects, in any mix;
    sorted by start time, or with `in_order` in the order they were appended."""
    records: list[ApplyRecord] = []
    problems: list[str] = []
    for line, value in _values(text, problems):
        for item in value if isinstance(value, list) else [value]:
            try:
                records.append(ApplyRecord.from_json(item))
            except ApplyRecordError as exc:
                problems.append(f"line {line}: not an apply record: {exc}")
    if not in_order:
        records.sort(key=lambda r: (r.started_at, r.client))
    return NoteContent(tuple(records), tuple(problems))


def _values(text: str, problems: list[str]) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            problems.append(f"line {line}: not valid JSON ({exc.args[0].split(':')[0]}): skipped")
            pos = _next_start(text, pos)
            continue
        yield line, value


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _next_start(text: str, pos: int) -> int:
    """The next line that starts (after blanks) with `{` or `[`; the end if none."""
    while True:
        newline = text.find("\n", pos)
        if newline < 0:
            return len(text)
        pos = newline + 1
        if text[pos:].lstrip(" \t")[:1] in ("{", "["):
            return pos


def noted_commits(repo: GitRepo) -> dict[str, str]:
    """Every commit that has a dagsync note -> the note's blob."""
    try:
        out = run(repo, "notes", f"--ref={NOTES_REF}", "list")
    except GitError:
        return {}
    pairs = (line.split() for line in out.splitlines())
    return {p[1]: p[0] for p in pairs if len(p) == 2}


def read_note(repo: GitRepo, blob: str, where: str, *, in_order: bool = False) -> NoteContent:
    """Parse one note blob; each problem is also logged as a warning."""
    content = parse_note(read_blob(repo, blob), in_order=in_order)
    for problem in content.problems:
        log.warning("dagsync note on %s, %s", where, problem)
    return content


def read_apply_records(repo_root: Path, commit: str) -> NoteContent:
    """The apply records attached to `commit`, oldest first, and what was skipped."""
    repo = open_repo(repo_root)
    sha = resolve(repo, commit)
    blob = noted_commits(repo).get(sha)
    return read_note(repo, blob, sha[:10]) if blob else NoteContent((), ())


def read_applies(repo_root: Path, commit: str) -> list[dict[str, Any]]:
    """The apply records of `commit` as JSON objects, oldest first (bad entries skipped)."""
    return [r.to_json() for r in read_apply_records(repo_root, commit).records]


# --- writing --------------------------------------------------------------------------------


def record_apply(repo_root: Path, commit: str, record: ApplyRecord | Mapping[str, Any]) -> None:
    """Append an apply record to the note of `commit` (created if absent, never replaced).

    `record` is an ApplyRecord or its JSON form; `applied_by`, `dagsync_version` and `run_url`
    default to the CI actor (or login), this dagsync, and the CI run. Raises ApplyRecordError
    for an incomplete record and GitError when git cannot write the note.
    """
    repo = open_repo(repo_root)
    sha = resolve(repo, commit)
    value = record if isinstance(record, ApplyRecord) else complete(record, repo)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as tmp:
        tmp.write(value.to_line() + "\n")
    try:
        run(
            repo,
            *identity_options(repo),
            "notes",
            f"--ref={NOTES_REF}",
            "append",
            "-F",
            tmp.name,
            sha,
        )
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def identity_options(repo: GitRepo) -> tuple[str, ...]:
    """`-c user.name=... -c user.email=...` when git has no committer identity (a fresh
    runner): the notes commit is then attributed to `dagsync <dagsync@localhost>`; the
    record itself names who applied (`applied_by`). Empty when git has an identity."""
    try:
        run(repo, "var", "GIT_COMMITTER_IDENT")
        return ()
    except GitError:
        return ("-c", f"user.name={FALLBACK_NAME}", "-c", f"user.email={FALLBACK_EMAIL}")


def last_applied(repo_root: Path, head: str = "HEAD") -> str | None:
    """The newest first-parent ancestor of `head` (not `head` itself, so that a re-run redoes
    it) whose note holds apply records none of which failed; None if there is none."""
    repo = open_repo(repo_root)
    noted = noted_commits(repo)
    if not noted:
        return None
    for sha in run(repo, "rev-list", "--first-parent", resolve(repo, head)).split()[1:]:
        blob = noted.get(sha)
        if blob is None:
            continue
        records = read_note(repo, blob, sha[:10]).records
        if records and all(r.result != "failed" for r in records):
            return sha
    return None
