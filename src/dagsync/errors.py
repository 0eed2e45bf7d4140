"""The one exception hierarchy of dagsync; only the CLI turns these into exit codes."""

from __future__ import annotations


class DagsyncError(Exception):
    """Base of every error dagsync raises on purpose (a user or environment problem)."""


class UsageError(DagsyncError):
    """The command line or the repository layout is not usable (exit code 2)."""


class RepositoryError(DagsyncError):
    """The configuration repository cannot be read at all (exit code 2)."""


class ReconcileError(DagsyncError):
    """Planning or applying changes failed on a host or an API."""
