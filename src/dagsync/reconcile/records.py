"""Apply records: one per client, appended to the applied commit's git note (GitOps API)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .report import ApplyReport, HostResult, HostStatus
from .resource import Status

_RESULT = {
    HostStatus.APPLIED: "ok",
    HostStatus.UNCHANGED: "unchanged",
    HostStatus.FAILED: "failed",
    HostStatus.ROLLED_BACK: "failed",
    HostStatus.SKIPPED: "skipped",
}


def _server(result: HostResult) -> dict[str, Any]:
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
    return {
        "server": result.target.name,
        "result": _RESULT[result.status],
        "resources_changed": changed,
        "error": error,
    }


def records(report: ApplyReport) -> list[dict[str, Any]]:
    """The JSON apply records of a report, one per client."""
    by_client: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in report.results:
        by_client[result.target.client].append(_server(result))
    return [
        {
            "client": client,
            "servers": servers,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
        }
        for client, servers in sorted(by_client.items())
    ]


def record(root: Path, report: ApplyReport, commit: str = "HEAD") -> str:
    """Append the records to `commit`'s note; returns what was done, for the user."""
    from ..gitops import record_apply

    entries = records(report)
    for entry in entries:
        record_apply(root, commit, entry)
    return f"apply recorded for {len(entries)} client(s) in refs/notes/dagsync on {commit}"
