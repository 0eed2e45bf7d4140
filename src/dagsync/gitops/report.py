"""Plain-text renderings of check-commits and audit results (JSON comes from `as_json`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from dagsync.gitops.notes import ApplyRecord
from dagsync.gitops.trail import (
    NO_COMMIT,
    NO_REQUEST,
    NOT_APPLIED,
    Audit,
    AuditCommit,
    AuditRequest,
    MergeInfo,
)
from dagsync.gitops.trailers import CommitsCheck

MARK, PAD = "! ", "  "


def check_text(check: CommitsCheck) -> str:
    """Each offending commit (short hash, subject) with what it lacks, then a summary."""
    lines = []
    for v in check.offending:
        lines.append(f"{v.short} {v.subject}  [{', '.join(v.clients)}]")
        lines.extend(f"  - {p}" for p in v.problems)
    n, bad = len(check.verdicts), len(check.offending)
    if not n:
        lines.append(f"no commit in {check.rev_range} touches clients/")
    elif bad:
        lines.append(
            f"{bad} of {n} commit(s) touching clients/ in {check.rev_range} "
            "do not cite their client's request"
        )
    else:
        lines.append(
            f"{n} commit(s) touching clients/ in {check.rev_range}: each cites its client's request"
        )
    return "\n".join(lines) + "\n"


def audit_text(result: Audit, *, verbose: bool = False) -> str:
    """The audit for a reader: one line per apply and target (with -v, each change too)."""
    since = f" since {result.since.isoformat()}" if result.since else ""
    lines = [
        f"audit of {result.client} at {result.head[:10]}{since}: "
        f"{len(result.commits)} commit(s), {len(result.requests)} request(s)",
        "",
    ]
    lines.append("Requests (newest first)")
    lines.extend(line for r in result.requests for line in _request(r))
    if not result.requests:
        lines.append(f"{PAD}(none in requests.yaml)")
    lines += ["", "Commits (newest first)"]
    lines.extend(line for c in result.commits for line in _commit(c, result.client, verbose))
    if not result.commits:
        lines.append(f"{PAD}(none)")
    if result.problems:
        lines += ["", "Notes that could not be read entirely"]
        lines.extend(f"{MARK}{p}" for p in result.problems)
    return "\n".join(lines) + "\n"


def _request(r: AuditRequest) -> Iterable[str]:
    e = r.entry
    mark = MARK if NO_COMMIT in r.flags else PAD
    expires = f"  expires {e.expires}" if e.expires else ""
    yield f"{mark}{e.id}  {e.date}  {e.channel}  {e.author}{expires}"
    yield f"      {e.summary}"
    yield (
        f"      cited by: {', '.join(r.commits)}"
        if r.commits
        else "      NO COMMIT cites this request"
    )


def _commit(entry: AuditCommit, client: str, verbose: bool = False) -> Iterable[str]:
    c = entry.commit
    standout = NO_REQUEST in entry.flags or entry.problems
    yield f"{MARK if standout else PAD}{c.short}  {_when(c.author_date)}  {c.author}"
    yield f"      {c.subject}"
    yield f"      requests: {_cited(entry)}"
    if entry.merge:
        yield f"      {_landing(entry.merge)}"
    yield from _files(entry, client)
    yield from _applies(entry, verbose)
    for problem in entry.problems:
        yield f"    {MARK}{problem}"


def _landing(m: MergeInfo) -> str:
    pr = f" PR #{m.pr}" if m.pr is not None else ""
    if not m.is_merge:
        return f"squashed:{pr} (squash merge, no merge commit)"
    return f"merged:   {m.short}{pr} by {m.merged_by} on {_when(m.date)}"


def _files(entry: AuditCommit, client: str) -> Iterable[str]:
    """The client's own files; the others of the commit are counted (JSON lists them all)."""
    mine = [
        f for f in entry.commit.files if any(p.startswith(f"clients/{client}/") for p in f.paths)
    ]
    for f in mine:
        moved = f"{f.old_path} -> " if f.old_path else ""
        yield f"      file:     {f.status} {moved}{f.path}"
    others = len(entry.commit.files) - len(mine)
    if others:
        yield f"      file:     and {others} other file(s) outside clients/{client}/"


def _cited(entry: AuditCommit) -> str:
    if entry.cited.internal:
        return f"internal — {entry.cited.reason or 'NO REASON GIVEN'}"
    if entry.requests:
        return "; ".join(f"{r.id} ({r.summary})" for r in entry.requests)
    cited = f" (cites {', '.join(entry.cited.requests)})" if entry.cited.requests else ""
    return f"NO REQUEST of this client{cited}"


def _applies(entry: AuditCommit, verbose: bool = False) -> Iterable[str]:
    if NOT_APPLIED in entry.flags or not entry.applied_at:
        yield "      applied:  not recorded"
        return
    if entry.applied_with:
        yield f"      applied:  with {entry.applied_with} (above), at {entry.applied_at[:10]}"
        return
    for record in entry.applies:
        for line in _apply(record, entry.applied_at, verbose):
            yield f"      {line}"


_ERROR_SHOWN = 100


def _apply(r: ApplyRecord, at: str, verbose: bool) -> Iterable[str]:
    """One line per target of the record: when, where, who, result and counts."""
    seconds = int((r.finished_at - r.started_at).total_seconds())
    head = f"applied:  {_when(r.started_at.isoformat())} at {at[:10]} by {r.applied_by}"
    head += f" (dagsync {r.dagsync_version}, {seconds} s):"
    if not r.servers:
        yield f"{head} no target"
    for s in r.servers:
        count = len(s.resources_changed)
        line = f"{head} {s.server} {s.result}, {count} change(s)"
        if s.error:
            error = (
                s.error
                if verbose or len(s.error) <= _ERROR_SHOWN
                else (s.error[:_ERROR_SHOWN] + "… (-v for all)")
            )
            line += f": {error}"
        yield line
        if verbose:
            yield from (f"    - {change}" for change in s.resources_changed)


def _when(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M %z")
    except ValueError:
        return iso
