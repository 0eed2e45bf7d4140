"""GitOps on GitPython: changed clients, commit trailers, apply notes and the audit trail."""

from __future__ import annotations

from .audit import Audit, AuditCommit, AuditRequest, UnknownClientError, audit
from .changes import ClientChanges, changed_clients, client_of
from .history import Commit, FileChange
from .notes import (
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
from .repo import GitError
from .trailers import CommitsCheck, CommitVerdict, check_commits

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
