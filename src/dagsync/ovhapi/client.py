"""The OVH client: the one dagsync module that imports ``ovh``.

:class:`OvhApi` is a python-ovh client plus a rate limiter and a retry policy, built by
:func:`connect`; python-ovh's exceptions become the :class:`~.errors.OvhError` hierarchy here.

Retries. A call is retried with exponential backoff and full jitter on 429, on 5xx (an HTML
502 page included) and on transport errors (refused connection, timeout), never on another
4xx, within :class:`~.limits.RetryPolicy` bounds: a failure (5xx, transport) by attempts and
total time per call; a 429 by the run's waiting budget only (``RetryPolicy.run_budget``
seconds of sleeping shared by every call of this client), each wait at least OVH's
``Retry-After``, so a long throttling slows the run down instead of aborting it. Each attempt
first takes a token from the client-side :class:`~.limits.RateLimiter`.

Idempotency. GET, PUT and DELETE are repeated freely; a DELETE whose retry answers 404 after
an uncertain attempt counts as done. A POST that failed *ambiguously* (5xx, timeout, reset:
OVH may have applied it) is repeated only if the caller can tell whether it was applied: it
passes ``reread``, a function that reads the state back; if ``reread()`` is true the POST is
not sent again. Without ``reread`` (and without ``idempotent=True``), the error is raised with
:attr:`OvhError.maybe_applied` set, and the caller must re-read the state before trying again
(``dagsync apply`` does this naturally on its next run, since it plans from observed state).
A 429 or a connection that was never established is always safe to repeat. The typed
creators (:func:`~.firewall.create_rule`, :func:`~.firewall.create_firewall`,
:func:`~.backup.add_backup_access`, ...) all pass a ``reread``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import ovh
import ovh.client
import ovh.exceptions
import requests

from dagsync.ovhapi.access import AccessRule, required_rule
from dagsync.ovhapi.credentials import CUSTOM_ENDPOINT, Credentials, read_credentials
from dagsync.ovhapi.errors import (
    OvhBadRequest,
    OvhConflict,
    OvhCredentialsError,
    OvhError,
    OvhNotFound,
    OvhNotGranted,
    OvhRateLimited,
    OvhReverseNotResolved,
    OvhServerError,
    OvhServiceExpired,
    OvhTransportError,
)
from dagsync.ovhapi.limits import (
    Clock,
    Jitter,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
    Sleep,
    full_jitter,
)
from dagsync.ovhapi.shapes import query_string
from dagsync.ovhapi.waits import Waits

__all__ = ["CREDENTIALS_HINT", "OvhApi", "connect", "resolve_credentials"]

log = logging.getLogger("dagsync.ovh")

CREDENTIALS_HINT: Final = (
    "`dagsync ovh credentials` lists the access rules dagsync needs; "
    "`dagsync ovh credentials --request` asks OVH for a consumer key with exactly those rules"
)


# -- mapping python-ovh errors ----------------------------------------------------------------

_BY_STATUS: Final[Mapping[int, type[OvhError]]] = {
    400: OvhBadRequest,
    404: OvhNotFound,
    409: OvhConflict,
    429: OvhRateLimited,
    460: OvhServiceExpired,
}
_CREDENTIAL_ERRORS = (
    ovh.exceptions.NotCredential,
    ovh.exceptions.InvalidKey,
    ovh.exceptions.InvalidCredential,
    ovh.exceptions.Forbidden,
)


def _map_error(error: ovh.exceptions.APIError, method: str, path: str) -> OvhError:
    where = f"{method} {path}"
    if isinstance(error, ovh.exceptions.HTTPError | ovh.exceptions.NetworkError):
        inner = error.args[1] if len(error.args) > 1 else error
        detail = f"{type(inner).__name__}: {inner}"
        return OvhTransportError(
            f"no answer from OVH to {where} ({detail})",
            sent=_maybe_sent(inner),
            method=method,
            path=path,
        )
    if isinstance(error, ovh.exceptions.InvalidResponse):
        return OvhServerError(
            f"OVH answered {where} with a body that is not JSON (an HTML error page from a proxy, "
            "or an empty body)",
            method=method,
            path=path,
        )
    response = error.response
    status = None if response is None else int(response.status_code)
    message = str(error.args[0]) if error.args and error.args[0] else "no message"
    context: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "query_id": error.query_id,
    }
    if isinstance(error, _CREDENTIAL_ERRORS):
        text = f"OVH refused the credentials for {where}: {message}. {CREDENTIALS_HINT}"
        return OvhCredentialsError(text, **context)
    if status == 403:
        return _not_granted(message, context)
    if status == 400 and " resolves to " in message:
        return OvhReverseNotResolved(f"OVH refused {where}: {message}", **context)
    kind = _BY_STATUS.get(status or 0) or (OvhServerError if (status or 0) >= 500 else OvhError)
    mapped = kind(f"OVH answered {status} to {where}: {message}", **context)
    mapped.retry_after = _retry_after(response)
    return mapped


def _not_granted(message: str, context: dict[str, Any]) -> OvhNotGranted:
    """NOT_GRANTED_CALL, or the newer ``Client::Forbidden`` body (python-ovh #141)."""
    method, path = context["method"], context["path"]
    try:
        rule: AccessRule | None = required_rule(method, path)
        missing = f"the access rule {rule}"
    except ValueError:
        rule, missing = None, f"a rule covering {method} {path}"
    text = (
        f"OVH refused {method} {path}: {message}. The consumer key lacks {missing}. "
        f"{CREDENTIALS_HINT}"
    )
    return OvhNotGranted(text, rule=rule, **context)


def _maybe_sent(inner: object) -> bool:
    """False only when the connection was never made, so OVH cannot have seen the request."""
    if isinstance(inner, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(inner, requests.exceptions.ConnectionError) and inner.args:
        reason = getattr(inner.args[0], "reason", None)
        return "NewConnectionError" not in type(reason).__name__
    return True


def _retry_after(response: Any) -> float | None:
    raw = None if response is None else response.headers.get("Retry-After")
    try:
        return None if raw is None else max(0.0, float(raw))
    except ValueError:
        return None


# -- the client -------------------------------------------------------------------------------


class OvhApi(Waits):
    """A python-ovh client with dagsync's rate limit, retries, error types and waits."""

    def __init__(
        self,
        client: Any,
        *,
        url: str,
        limiter: RateLimiter,
        retry: RetryPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        jitter: Jitter = full_jitter,
        signed: bool = True,
        secrets: Sequence[str] = (),
    ) -> None:
        self._client = client
        self.url = url
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.budget = RetryBudget(self.retry.run_budget)  # one client = one run
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._signed = signed
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"OvhApi(url={self.url!r})"

    # The four verbs; ``path`` is already escaped (see quote_block).

    def get(self, path: str, **query: str | int | bool | None) -> Any:
        return self.call("GET", path + query_string(query))

    def find(self, path: str, **query: str | int | bool | None) -> Any:
        """GET, or ``None`` on 404."""
        try:
            return self.get(path, **query)
        except OvhNotFound:
            return None

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.call("PUT", path, body=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        reread: Callable[[], bool] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """POST; ``None`` if an uncertain attempt turned out applied (see the module doc)."""
        return self.call("POST", path, body=body, reread=reread, idempotent=idempotent)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        reread: Callable[[], bool] | None = None,
        idempotent: bool | None = None,
        signed: bool = True,
    ) -> Any:
        """One logical call: rate-limited attempts, retried per :class:`RetryPolicy`."""
        if signed:
            required_rule(method, path)
            if not self._signed:
                raise OvhCredentialsError(
                    f"{method} {path} needs a consumer key (OVH_CONSUMER_KEY or ovh.conf); "
                    "no consumer key yet? Run `dagsync ovh credentials --request`"
                )
        repeatable = method != "POST" if idempotent is None else idempotent
        started, failures, uncertain = self._clock(), 0, False
        while True:
            try:
                return self._attempt(method, path, body, signed)
            except OvhError as error:
                if uncertain and method == "DELETE" and isinstance(error, OvhNotFound):
                    return None  # an earlier, uncertain attempt did delete it
                failures += 1
                error.attempts = failures
                uncertain = uncertain or error.retry == "ambiguous"
                if error.retry == "never":
                    raise
                if self._applied_anyway(error, repeatable, reread):
                    return None
                delay = self._backoff(failures, error, started)
                if delay is None:
                    raise
                log.warning(
                    "OVH %s %s failed (%s), retry %d in %.1f s",
                    method,
                    path,
                    type(error).__name__,
                    failures,
                    delay,
                )
                self._sleep(delay)

    @staticmethod
    def _applied_anyway(
        error: OvhError, repeatable: bool, reread: Callable[[], bool] | None
    ) -> bool:
        """After an uncertain failure of a call that must not run twice: was it applied?

        Raises ``error`` (marked ``maybe_applied``) when there is no way to tell.
        """
        if error.retry != "ambiguous" or repeatable:
            return False
        if reread is None:
            error.maybe_applied = True
            raise error
        return reread()

    def _backoff(self, failures: int, error: OvhError, started: float) -> float | None:
        """The sleep before the next attempt, or ``None`` when the bounds are reached.

        A 429 is bounded by the run's budget only, and waits at least its Retry-After; a
        failure also by the attempts and the total time of this call."""
        throttled = isinstance(error, OvhRateLimited)
        if not throttled and failures >= self.retry.attempts:
            return None
        delay = self._jitter(self.retry.ceiling(failures))
        if throttled and error.retry_after is not None:  # OVH said how long: exactly that
            delay = max(error.retry_after, self.retry.min_throttle_delay)
        elif throttled:
            delay = max(delay, self.retry.min_throttle_delay)
        elif error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.retry.max_delay))
        if not throttled and self._clock() - started + delay > self.retry.total:
            return None
        if not self.budget.take(delay):
            error.message += (
                f"; the run's retry budget ({self.retry.run_budget:g} s of waiting) "
                f"has {self.budget.left:.1f} s left, less than the {delay:.1f} s to wait"
            )
            return None
        return delay

    def _attempt(self, method: str, path: str, body: Mapping[str, Any] | None, signed: bool) -> Any:
        self.limiter.acquire()
        try:
            return self._client.call(method, path, None if body is None else dict(body), signed)
        except ovh.exceptions.APIError as error:
            mapped = _map_error(error, method, path.split("?", 1)[0])
            mapped.message = self._scrub(mapped.message)
            raise mapped from error

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


# -- connecting -------------------------------------------------------------------------------


def resolve_credentials(
    endpoint: str | None = None,
    *,
    url: str | None = None,
    config_file: Path | None = None,
    require_consumer_key: bool = True,
) -> Credentials:
    """Read the credentials like python-ovh: argument, then environment, then ``ovh.conf``."""
    return read_credentials(
        endpoint,
        url=url,
        config_file=config_file,
        require_consumer_key=require_consumer_key,
        endpoints=ovh.client.ENDPOINTS,
    )


def connect(
    endpoint: str | None = None,
    *,
    url: str | None = None,
    config_file: Path | None = None,
    timeout: float = 30.0,
    max_rate_per_minute: float = 50,
    burst: int = 5,
    retry: RetryPolicy | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    jitter: Jitter = full_jitter,
    require_consumer_key: bool = True,
) -> OvhApi:
    """An :class:`OvhApi` from the environment / ``ovh.conf`` (see :func:`resolve_credentials`).

    ``timeout`` bounds each HTTP request (a hung connection becomes a retried transport
    error); ``retry`` bounds the attempts and total time of each call.
    """
    credentials = resolve_credentials(
        endpoint, url=url, config_file=config_file, require_consumer_key=require_consumer_key
    )
    return OvhApi(
        _client(credentials, timeout),
        url=credentials.url,
        limiter=RateLimiter(max_rate_per_minute, burst, clock=clock, sleep=sleep),
        retry=retry,
        clock=clock,
        sleep=sleep,
        jitter=jitter,
        signed=credentials.consumer_key is not None,
        secrets=credentials.secrets(),
    )


def _client(credentials: Credentials, timeout: float) -> Any:
    """A python-ovh client under a private endpoint name, so ovh.conf sections never apply."""
    name = f"{CUSTOM_ENDPOINT}+{credentials.url}"
    ovh.client.ENDPOINTS[name] = credentials.url
    try:
        return ovh.Client(
            endpoint=name,
            application_key=credentials.application_key,
            application_secret=credentials.application_secret,
            consumer_key=credentials.consumer_key or "",
            timeout=timeout,
        )
    except ovh.exceptions.APIError as error:
        message = str(error.args[0]) if error.args else type(error).__name__
        for secret in credentials.secrets():
            message = message.replace(secret, "***")
        raise OvhCredentialsError(f"the OVH client refused its configuration: {message}") from None
