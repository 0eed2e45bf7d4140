"""GitOps on GitPython: changed clients, commit trailers, apply notes and the audit trail.

Names are imported from their submodule on first use, so that `validate --changed-since`
(which needs only `changes`) does not load the audit trail and the model behind it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagsync.gitops.changes import ClientChanges, changed_clients, client_of
    from dagsync.gitops.history import Commit, FileChange
    from dagsync.gitops.notes import (
        NOTES_REF,
        ApplyRecord,
        ApplyRecordError,
        NoteContent,
        ServerApply,
        parse_note,
        read_applies,
        read_apply_records,
        record_apply,
    )
    from dagsync.gitops.repo import GitError
    from dagsync.gitops.trail import Audit, AuditCommit, AuditRequest, UnknownClientError, audit
    from dagsync.gitops.trailers import CommitsCheck, CommitVerdict, check_commits

_WHERE: dict[str, str] = {
    "ApplyRecord": "notes",
    "ApplyRecordError": "notes",
    "Audit": "trail",
    "AuditCommit": "trail",
    "AuditRequest": "trail",
    "ClientChanges": "changes",
    "Commit": "history",
    "CommitVerdict": "trailers",
    "CommitsCheck": "trailers",
    "FileChange": "history",
    "GitError": "repo",
    "NOTES_REF": "notes",
    "NoteContent": "notes",
    "ServerApply": "notes",
    "UnknownClientError": "trail",
    "audit": "trail",
    "changed_clients": "changes",
    "check_commits": "trailers",
    "client_of": "changes",
    "parse_note": "notes",
    "read_applies": "notes",
    "read_apply_records": "notes",
    "record_apply": "notes",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_WHERE[name]}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "NOTES_REF",
    "ApplyRecord",
    "ApplyRecordError",
    "Audit",
    "AuditCommit",
    "AuditRequest",
    "ClientChanges",
    "Commit",
    "CommitVerdict",
    "CommitsCheck",
    "FileChange",
    "GitError",
    "NoteContent",
    "ServerApply",
    "UnknownClientError",
    "audit",
    "changed_clients",
    "check_commits",
    "client_of",
    "parse_note",
    "read_applies",
    "read_apply_records",
    "record_apply",
]
