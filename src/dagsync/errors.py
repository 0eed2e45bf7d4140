"""The one exception hierarchy of dagsync; only the CLI turns these into exit codes.

Exit codes, the same for every command (README "Exit codes"; tests/test_exit_codes.py):

- 0: done, clean, nothing to do;
- 1: findings of severity error, a target or a check that failed;
- 2: a usage, repository or environment error: nothing was done.

`plan` and `apply` follow Terraform instead, so that `plan --detailed-exitcode` can mean
"changes pending" with 2: any error there exits 1, and 2 is `plan --detailed-exitcode`'s
changes, or an `apply` refused before it touched anything (not on the branch tip, another
apply holds the lock).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class DagsyncError(Exception):
    """Base of every error dagsync raises on purpose (a user or environment problem)."""


class UsageError(DagsyncError):
    """The command line or the repository layout is not usable (exit code 2)."""


class RepositoryError(DagsyncError):
    """The configuration repository cannot be read at all (exit code 2)."""


class ReconcileError(DagsyncError):
    """Planning or applying changes failed on a host or an API."""
