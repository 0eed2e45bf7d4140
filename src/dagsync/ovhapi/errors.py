"""The :class:`OvhError` hierarchy: what an OVH call raises, in dagsync's terms.

python-ovh's exceptions are mapped onto these in :mod:`.client`; ``retry`` tells the retry
loop whether an error may be repeated (``safe``), may have been applied (``ambiguous``), or is
final (``never``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from dagsync.errors import ReconcileError

if TYPE_CHECKING:
    from dagsync.ovhapi.access import AccessRule

__all__ = [
    "OvhBadRequest",
    "OvhConflict",
    "OvhCredentialsError",
    "OvhError",
    "OvhNotFound",
    "OvhNotGranted",
    "OvhRateLimited",
    "OvhReverseNotResolved",
    "OvhServerError",
    "OvhServiceExpired",
    "OvhTransportError",
    "OvhUnexpectedResponse",
    "OvhWaitTimeout",
    "Retry",
]

Retry = Literal["never", "safe", "ambiguous"]


class OvhError(ReconcileError):
    """An OVH API call (or the OVH set-up) failed; ``query_id`` is OVH's id for support."""

    retry: Retry = "never"

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        query_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.query_id = query_id
        self.retry_after: float | None = None
        self.attempts = 1
        self.maybe_applied = False

    def __str__(self) -> str:
        text = self.message
        if self.query_id:
            text += f" (OVH query id {self.query_id})"
        if self.attempts > 1:
            text += f"; gave up after {self.attempts} attempts"
        if self.maybe_applied:
            text += "; OVH may have applied this request: re-read the state before retrying"
        return text


class OvhCredentialsError(OvhError):
    """Credentials are missing, unusable, not validated yet, or refused by OVH."""


class OvhNotGranted(OvhError):
    """403: the consumer key's access rules do not cover this call."""

    def __init__(self, message: str, *, rule: AccessRule | None, **where: Any) -> None:
        super().__init__(message, **where)
        self.rule = rule


class OvhNotFound(OvhError):
    """404: the object does not exist (or no longer exists)."""


class OvhBadRequest(OvhError):
    """400: OVH refused the parameters."""


class OvhReverseNotResolved(OvhBadRequest):
    """400 on a reverse DNS: the name does not resolve (yet) to the address."""


class OvhConflict(OvhError):
    """409: the object already exists, or an operation is pending on it."""


class OvhServiceExpired(OvhError):
    """460: the service has expired."""


class OvhRateLimited(OvhError):
    """429: too many requests (retried, then raised)."""

    retry: Retry = "safe"


class OvhServerError(OvhError):
    """5xx, or a body that is not JSON (an HTML error page from a proxy)."""

    retry: Retry = "ambiguous"


class OvhTransportError(OvhError):
    """The request did not get an answer: refused connection, reset, timeout."""

    def __init__(self, message: str, *, sent: bool, **where: Any) -> None:
        super().__init__(message, **where)
        self.retry = "ambiguous" if sent else "safe"


class OvhUnexpectedResponse(OvhError):
    """OVH answered with a shape dagsync does not understand (the state is then unknown)."""


class OvhWaitTimeout(OvhError):
    """An asynchronous change did not reach the wanted state in time."""

    def __init__(self, what: str, wanted: str, last_state: str, timeout: float) -> None:
        super().__init__(
            f"timed out after {timeout:g} s waiting for {what} to become {wanted}; "
            f"its last state was {last_state}. OVH may still be processing it: run again later "
            "(apply converges from the state it reads)"
        )
        self.what = what
        self.wanted = wanted
        self.last_state = last_state
        self.timeout = timeout
