"""Apply records: one per client, appended to the applied commit's git note (GitOps API).

Each target of the report is one entry of its client's record (DAG's own hosts under the
client `dag`), with the desired-state digest of the target at the applied commit when the
apply applied it wholly and it succeeded (see `dagsync.reconcile.digests`): the apply scope
of the next runs starts from those digests.  Targets an interrupted apply did not finish are
recorded `interrupted` (see `dagsync.reconcile.supervise`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagsync.reconcile.report import ApplyReport, HostResult, HostStatus
from dagsync.reconcile.resource import Status

if TYPE_CHECKING:
    from dagsync.reconcile.run import Selection
    from dagsync.validate.repository import Repository

_RESULT = {
    HostStatus.APPLIED: "ok",
    HostStatus.UNCHANGED: "unchanged",
    HostStatus.FAILED: "failed",
    HostStatus.ROLLED_BACK: "failed",
    HostStatus.SKIPPED: "skipped",
}
SUCCESS = ("ok", "unchanged")
INTERRUPTED = "interrupted"


def _server(
    result: HostResult, digests: Mapping[str, str], covered: Callable[[str], bool]
) -> dict[str, Any]:
    changed = [
        f"{o.change.kind}: {o.change.summary}"
        for o in result.outcomes
        if o.status is Status.APPLIED
    ]
    errors = [
        f"{o.change.kind}: {o.status}: {o.message}"
        for o in result.outcomes
        if o.status in (Status.FAILED, Status.ROLLED_BACK)
    ]
    error = "; ".join(([result.message] if result.message else []) + errors) or None
    if result.status is HostStatus.ROLLED_BACK:
        error = f"rolled back: {error}"
    verdict = _RESULT[result.status]
    entry: dict[str, Any] = {
        "server": result.target.name,
        "result": verdict,
        "resources_changed": changed,
        "error": error,
    }
    key = result.target.key
    if verdict in SUCCESS and key in digests and covered(key):
        entry["digest"] = digests[key]
    return entry


def _interrupted(key: str, done: Sequence[str]) -> dict[str, Any]:
    shown = f" after {', '.join(done)}" if done else " before anything on it was reported"
    return {
        "server": key.split("/", 1)[1],
        "result": INTERRUPTED,
        "resources_changed": list(done),
        "error": f"apply interrupted{shown}",
    }


def records(
    report: ApplyReport,
    digests: Mapping[str, str] | None = None,
    covered: Callable[[str], bool] = lambda key: True,
    interrupted: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """The JSON apply records of a report, one per client.

    `digests`: every target's desired-state digest at the applied commit; a target that
    succeeded and that `covered` says was applied wholly gets its digest.  `interrupted`:
    targets the apply did not finish (-> what was reported done on them), recorded as such.
    """
    by_client: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stopped = dict(interrupted or {})
    for result in report.results:
        if result.target.key in stopped:
            continue
        by_client[result.target.client].append(_server(result, digests or {}, covered))
    for key, done in sorted(stopped.items()):
        by_client[key.split("/", 1)[0]].append(_interrupted(key, done))
    # lazy: importing it here keeps bcrypt, cryptography, cython_runtime (+10) out of this module's load
    from dagsync.reconcile.digests import renderer_id

    return [
        {
            "client": client,
            "servers": servers,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "dagsync_version": renderer_id(),  # what rendered the digests (see `_quick`)
        }
        for client, servers in sorted(by_client.items())
    ]


def record(
    root: Path,
    report: ApplyReport,
    commit: str = "HEAD",
    *,
    digests: Mapping[str, str] | None = None,
    covered: Callable[[str], bool] = lambda key: True,
    interrupted: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Append the records to `commit`'s note; returns what was done, for the user."""
    # lazy: importing it here keeps dagsync.gitops, git, gitdb (+1) out of this module's load
    from dagsync.gitops.notes import record_apply

    entries = records(report, digests, covered, interrupted)
    for entry in entries:
        record_apply(root, commit, entry)
    return f"apply recorded for {len(entries)} client(s) in refs/notes/dagsync on {commit}"


def record_run(
    root: Path,
    repo: Repository,
    selection: Selection,
    kinds: Iterable[str],
    report: ApplyReport,
    interrupted: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Record an apply of `selection` and `kinds`: each target that succeeded and that the
    apply covered wholly gets its desired-state digest (`digests.covers`)."""
    # lazy: importing it here keeps bcrypt, cryptography, cython_runtime (+10) out of this module's load
    from dagsync.reconcile.digests import covers, digests

    ran = frozenset(kinds)
    return record(
        root,
        report,
        digests=digests(repo),
        covered=lambda key: covers(repo, selection, ran, key),
        interrupted=interrupted,
    )
