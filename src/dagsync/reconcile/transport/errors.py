"""What can go wrong with one host; each error names the host and says what to do."""

from __future__ import annotations

from dagsync.errors import ReconcileError


class HostError(ReconcileError):
    """One host could not be planned or changed; the others carry on."""


class Unreachable(HostError):
    """No TCP connection or no SSH session could be opened."""


class HostKeyRejected(HostError):
    """The host's key is not the one pinned in git (or in the override file)."""


class AuthenticationFailed(HostError):
    """The host refused our user or key."""


class CommandTimeout(HostError):
    """A command did not finish in time."""


class LockHeld(HostError):
    """Another apply holds the host's lock; `holder_text` is what its holder file says."""

    holder_text: str = ""


class CommandFailed(HostError):
    """A command ended with a non-zero exit code."""
