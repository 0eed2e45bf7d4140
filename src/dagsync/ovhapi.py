"""The OVH API boundary: the one dagsync module that imports ``ovh``.

Everything above it speaks dagsync's types: :class:`OvhApi` (a python-ovh client plus a rate
limiter and a retry policy, built by :func:`connect`), the :class:`OvhError` hierarchy, the
value types (:class:`EdgeRule`, :class:`DedicatedServer`, ...) and thin typed calls such as
:func:`firewall_rules` or :func:`set_monitoring`.

Credentials come from the environment (``OVH_ENDPOINT``, ``OVH_APPLICATION_KEY``,
``OVH_APPLICATION_SECRET``, ``OVH_CONSUMER_KEY``) or from ``ovh.conf`` files, looked up in the
python-ovh order; never from the configuration repository, and they never appear in a
message, a log line or a ``repr``. ``DAGSYNC_OVH_URL`` (or ``url=``) points dagsync at another
base URL, e.g. the emulator of :mod:`dagsync.testing.ovh_api`.

Retries. A call is retried with exponential backoff and full jitter on 429, on 5xx (an HTML
502 page included) and on transport errors (refused connection, timeout), never on another
4xx, within :class:`RetryPolicy` bounds (attempts and total time). Each attempt first takes a
token from the client-side :class:`RateLimiter`.

Idempotency. GET, PUT and DELETE are repeated freely; a DELETE whose retry answers 404 after
an uncertain attempt counts as done. A POST that failed *ambiguously* (5xx, timeout, reset:
OVH may have applied it) is repeated only if the caller can tell whether it was applied: it
passes ``reread``, a function that reads the state back; if ``reread()`` is true the POST is
not sent again. Without ``reread`` (and without ``idempotent=True``), the error is raised with
:attr:`OvhError.maybe_applied` set, and the caller must re-read the state before trying again
(``dagsync apply`` does this naturally on its next run, since it plans from observed state).
A 429 or a connection that was never established is always safe to repeat. The typed
creators below (:func:`create_rule`, :func:`create_firewall`, :func:`add_backup_access`, ...)
all pass a ``reread``.

Access rules. :data:`ACCESS_RULES` is the one table of the consumer-key rules dagsync needs;
every signed call checks that the table covers it (a dagsync bug otherwise), and
``dagsync ovh credentials`` prints it and requests a key with exactly those rules.
"""

from __future__ import annotations

import configparser
import datetime as dt
import ipaddress
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

import ovh
import ovh.client
import ovh.exceptions
import requests

from .errors import ReconcileError

__all__ = [
    "ACCESS_RULES",
    "AccessRule",
    "BackupAccess",
    "BackupProtocols",
    "BackupStorage",
    "ConsumerKeyRequest",
    "Credentials",
    "DedicatedServer",
    "EdgeRule",
    "Firewall",
    "Mitigation",
    "ObservedRule",
    "OvhApi",
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
    "PortRange",
    "RateLimiter",
    "RetryPolicy",
    "ReverseDns",
    "ServiceInfo",
    "Task",
    "connect",
    "quote_block",
    "resolve_credentials",
]

log = logging.getLogger("dagsync.ovh")
T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]
Jitter = Callable[[float], float]
Retry = Literal["never", "safe", "ambiguous"]

CREDENTIALS_HINT: Final = (
    "`dagsync ovh credentials` lists the access rules dagsync needs; "
    "`dagsync ovh credentials --request` asks OVH for a consumer key with exactly those rules"
)


# -- errors -----------------------------------------------------------------------------------


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


# -- access rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessRule:
    """A consumer-key access rule; ``*`` matches anything, ``/`` included."""

    method: str
    path: str
    why: str = field(default="", compare=False)

    def covers(self, method: str, path: str) -> bool:
        pattern = re.escape(self.path).replace(r"\*", ".*")
        return self.method == method and re.fullmatch(pattern, unquote(path)) is not None

    def as_json(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


_SERVER = "/dedicated/server"
_BACKUP = "/dedicated/server/*/features/backupFTP"
ACCESS_RULES: Final = (
    AccessRule("GET", _SERVER, "list the account's dedicated servers"),
    AccessRule("GET", f"{_SERVER}/*", "read servers, IPs, service infos, tasks, backup storage"),
    AccessRule("PUT", f"{_SERVER}/*", "switch OVH monitoring; change backup-storage protocols"),
    AccessRule("POST", _BACKUP, "activate the backup storage"),
    AccessRule("POST", f"{_BACKUP}/access", "allow an IP block on the backup storage"),
    AccessRule("DELETE", f"{_BACKUP}/access/*", "remove an undeclared backup-storage access"),
    AccessRule("GET", "/ip/*", "read edge firewalls, their rules, mitigation, reverse DNS"),
    AccessRule("POST", "/ip/*/firewall", "put an address on the edge firewall"),
    AccessRule("PUT", "/ip/*/firewall/*", "enable the edge firewall of an address"),
    AccessRule("POST", "/ip/*/firewall/*/rule", "create edge firewall rules"),
    AccessRule("DELETE", "/ip/*/firewall/*/rule/*", "delete edge firewall rules"),
    AccessRule("POST", "/ip/*/reverse", "set reverse DNS"),
    AccessRule("DELETE", "/ip/*/reverse/*", "remove reverse DNS"),
)
"""The minimal access rules of dagsync's consumer key: the one table, used by every call."""


def required_rule(method: str, path: str) -> AccessRule:
    """The rule of :data:`ACCESS_RULES` that covers ``method path`` (a dagsync bug if none)."""
    path = path.split("?", 1)[0]
    for rule in ACCESS_RULES:
        if rule.covers(method, path):
            return rule
    raise ValueError(f"{method} {path} is not covered by ovhapi.ACCESS_RULES: add a rule there")


def quote_block(block: str) -> str:
    """A path segment for an IP block or any parameter: ``203.0.113.10/32`` -> ``...%2F32``."""
    return quote(block, safe="")


# -- credentials ------------------------------------------------------------------------------

ENV_VARS: Final = {
    "endpoint": "OVH_ENDPOINT",
    "application_key": "OVH_APPLICATION_KEY",
    "application_secret": "OVH_APPLICATION_SECRET",
    "consumer_key": "OVH_CONSUMER_KEY",
}
URL_ENV: Final = "DAGSYNC_OVH_URL"
CUSTOM_ENDPOINT: Final = "dagsync"
"""The config section (and endpoint name) used when only a URL is given."""


@dataclass(frozen=True)
class Credentials:
    """Where to talk and with which keys; the keys never appear in ``repr``."""

    endpoint: str
    url: str
    application_key: str = field(repr=False)
    application_secret: str = field(repr=False)
    consumer_key: str | None = field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        values = (self.application_key, self.application_secret, self.consumer_key)
        return tuple(v for v in values if v)


def config_files(config_file: Path | None = None) -> list[Path]:
    """The ``ovh.conf`` files python-ovh reads, lowest priority first, as of now."""
    files = [Path("/etc/ovh.conf"), Path.home() / ".ovh.conf", Path.cwd() / "ovh.conf"]
    return files + ([config_file] if config_file is not None else [])


def resolve_credentials(
    endpoint: str | None = None,
    *,
    url: str | None = None,
    config_file: Path | None = None,
    require_consumer_key: bool = True,
) -> Credentials:
    """Read the credentials like python-ovh: argument, then environment, then ``ovh.conf``."""
    if config_file is not None and not config_file.is_file():
        raise OvhCredentialsError(f"OVH config file {config_file} does not exist")
    files = [f for f in config_files(config_file) if f.is_file()]
    for path in files:
        if path in (Path.cwd() / "ovh.conf", config_file):
            _refuse_inside_repository(path)
    parser = _read_config(files)

    def lookup(section: str, name: str) -> str | None:
        value = os.environ.get(ENV_VARS[name]) or parser.get(section, name, fallback=None)
        return value.strip() if value and value.strip() else None

    url = url or os.environ.get(URL_ENV) or None
    name = endpoint or lookup("default", "endpoint") or (CUSTOM_ENDPOINT if url else None)
    if name is None:
        raise OvhCredentialsError(_missing_message(["endpoint"], "ovh-eu"))
    base = _base_url(name, url)
    names = ["application_key", "application_secret"]
    names += ["consumer_key"] if require_consumer_key else []
    values = {key: lookup(name, key) for key in names}
    missing = [key for key, value in values.items() if value is None]
    if missing:
        raise OvhCredentialsError(_missing_message(missing, name))
    return Credentials(
        endpoint=name,
        url=base,
        application_key=values["application_key"] or "",
        application_secret=values["application_secret"] or "",
        consumer_key=values.get("consumer_key"),
    )


def _base_url(name: str, url: str | None) -> str:
    if url is None:
        known = ovh.client.ENDPOINTS.get(name)
        if known is None or name.startswith(CUSTOM_ENDPOINT):
            valid = ", ".join(sorted(k for k in ovh.client.ENDPOINTS if "+" not in k))
            raise OvhCredentialsError(
                f"unknown OVH endpoint {name!r}: use one of {valid}, or set {URL_ENV}"
            )
        return str(known)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OvhCredentialsError(
            f"{URL_ENV} must be an http(s) URL such as http://127.0.0.1:8080/1.0"
        )
    return url.rstrip("/") if parts.path.strip("/") else url.rstrip("/") + "/1.0"


def _read_config(files: Sequence[Path]) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    for path in files:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.ParsingError as error:
            lines = ", ".join(str(line) for line, _ in error.errors)
            raise OvhCredentialsError(f"{path}: not an INI file (line {lines})") from None
        except (configparser.Error, OSError, UnicodeDecodeError) as error:
            raise OvhCredentialsError(f"{path}: unreadable ({type(error).__name__})") from None
    return parser


def _refuse_inside_repository(path: Path) -> None:
    """A credentials file in the current directory (or given) must not sit in a git work tree."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            raise OvhCredentialsError(
                f"{path} is inside the git work tree {folder}: OVH credentials must never live "
                "in a repository; move the file to ~/.ovh.conf or use the OVH_* variables"
            )


def _missing_message(missing: Sequence[str], section: str) -> str:
    variables = ", ".join(ENV_VARS[name] for name in missing)
    keys = ", ".join(missing)
    where = "[default] endpoint=ovh-eu" if missing == ["endpoint"] else f"the [{section}] section"
    text = (
        f"OVH credentials are incomplete: missing {keys}. Set {variables} in the environment, "
        f"or {where} of ./ovh.conf, ~/.ovh.conf or /etc/ovh.conf (never in the configuration "
        f"repository; {URL_ENV} overrides the API base URL)."
    )
    if "consumer_key" in missing:
        text += " No consumer key yet? Run `dagsync ovh credentials --request`."
    return text


# -- rate limit and retry policy --------------------------------------------------------------


class RateLimiter:
    """A thread-safe token bucket: at most ``burst + per_minute * t / 60`` calls in ``t`` s.

    The default (50 a minute, burst 5) keeps any 60-second window under 56 calls, below the
    roughly 60 a minute per consumer key that OVH calls fair use.
    """

    def __init__(
        self,
        per_minute: float = 50,
        burst: int = 5,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(
                f"a rate limit needs per_minute > 0 and burst >= 1, not {per_minute}/{burst}"
            )
        self.per_second = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
            self._stamp = now
            self._tokens -= 1.0  # below zero: a reservation, paid by the sleep below
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries: attempts per call, backoff ceiling, and total time per call."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    total: float = 120.0

    def ceiling(self, failures: int) -> float:
        """The backoff ceiling after ``failures`` failed attempts: base * 2**(n-1), capped."""
        return min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))


def full_jitter(ceiling: float) -> float:
    """AWS-style full jitter: uniformly between 0 and the ceiling."""
    return random.uniform(0.0, ceiling)


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


def _query_string(query: Mapping[str, str | int | bool | None]) -> str:
    def text(value: str | int | bool | None) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "null" if value is None else str(value)

    return "?" + urlencode({k: text(v) for k, v in query.items()}) if query else ""


# -- the client -------------------------------------------------------------------------------


class OvhApi:
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
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._signed = signed
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"OvhApi(url={self.url!r})"

    # The four verbs; ``path`` is already escaped (see quote_block).

    def get(self, path: str, **query: str | int | bool | None) -> Any:
        return self.call("GET", path + _query_string(query))

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
        """The sleep before the next attempt, or ``None`` when the bounds are reached."""
        if failures >= self.retry.attempts:
            return None
        delay = self._jitter(self.retry.ceiling(failures))
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.retry.max_delay))
        if self._clock() - started + delay > self.retry.total:
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

    # Waiting for asynchronous states.

    def wait_for(
        self,
        probe: Callable[[], tuple[bool, str]],
        *,
        what: str,
        wanted: str,
        timeout: float,
        interval: float = 2.0,
    ) -> str:
        """Call ``probe`` (-> done, state) every ``interval`` s until done; return the state."""
        deadline = self._clock() + timeout
        while True:
            done, state = probe()
            if done:
                return state
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise OvhWaitTimeout(what, wanted, state, timeout)
            self._sleep(min(interval, remaining))

    def wait_until_state(
        self,
        path: str,
        wanted: str,
        *,
        timeout: float,
        interval: float = 2.0,
        key: str = "state",
        failed: frozenset[str] = frozenset(),
        what: str | None = None,
    ) -> Any:
        """Poll ``GET path`` until its ``key`` is ``wanted``; return the last object read."""
        name = what or path
        last: list[Any] = [None]

        def probe() -> tuple[bool, str]:
            last[0] = self.get(path)
            state = str(last[0].get(key)) if isinstance(last[0], dict) else repr(last[0])
            if state in failed:
                raise OvhError(f"{name} ended in state {state} instead of {wanted}", path=path)
            return state == wanted, state

        self.wait_for(probe, what=name, wanted=wanted, timeout=timeout, interval=interval)
        return last[0]

    def wait_until_gone(
        self, path: str, *, timeout: float, interval: float = 2.0, what: str | None = None
    ) -> None:
        """Poll ``GET path`` until it answers 404."""

        def probe() -> tuple[bool, str]:
            found = self.find(path)
            if found is None:
                return True, "gone"
            return False, str(found.get("state", "present")) if isinstance(
                found, dict
            ) else "present"

        self.wait_for(probe, what=what or path, wanted="gone", timeout=timeout, interval=interval)


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


# -- consumer keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerKeyRequest:
    """A requested key: usable once the user has validated it at ``validation_url``."""

    consumer_key: str = field(repr=False)
    validation_url: str
    state: str


def request_consumer_key(
    api: OvhApi, *, allowed_ips: Sequence[str] = (), redirection: str | None = None
) -> ConsumerKeyRequest:
    """``POST /auth/credential`` with exactly :data:`ACCESS_RULES` (unsigned; never repeated
    after an uncertain failure, which would leave a second pending key)."""
    body = {
        "accessRules": [rule.as_json() for rule in ACCESS_RULES],
        "redirection": redirection,
        "allowedIPs": [str(ipaddress.ip_network(ip, strict=False)) for ip in allowed_ips] or None,
    }
    raw = api.call("POST", "/auth/credential", body=body, signed=False)
    try:
        return ConsumerKeyRequest(
            str(raw["consumerKey"]), str(raw["validationUrl"]), str(raw["state"])
        )
    except (KeyError, TypeError) as error:
        raise OvhUnexpectedResponse(
            f"POST /auth/credential: unexpected answer ({error!r})"
        ) from None


# -- value types ------------------------------------------------------------------------------

MAX_EDGE_RULES: Final = 20
RULE_ACTIONS: Final = frozenset({"permit", "deny"})
RULE_PROTOCOLS: Final = frozenset({"ah", "esp", "gre", "icmp", "ipv4", "tcp", "udp"})
TCP_OPTIONS: Final = frozenset({"established", "syn"})
TASK_FAILED: Final = frozenset({"cancelled", "customerError", "ovhError"})
_ANY_SOURCE: Final = frozenset({"", "any", "0.0.0.0/0"})


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive port range; a single port has ``first == last``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.last <= 65535:
            raise ValueError(f"not a port range: {self.first}-{self.last}")

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(port, port)

    def request(self, name: str) -> dict[str, Any]:
        """``{"destinationPort": 22}`` or ``{"destinationPortRange": {"from": .., "to": ..}}``."""
        if self.first == self.last:
            return {name: self.first}
        return {f"{name}Range": {"from": self.first, "to": self.last}}

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class EdgeRule:
    """One edge-firewall rule, in a shape that compares desired with observed.

    ``source`` is a canonical CIDR or ``None`` (any); ``fragments`` is TCP-only, like
    ``tcp_option``; ports only with tcp or udp. :meth:`request` gives the POST body and
    :func:`parse_rule` turns a response (``"eq 22"``, string ``tcpOption``, top-level
    ``fragments``) back into an equal value.
    """

    sequence: int
    action: str
    protocol: str
    source: str | None = None
    destination_port: PortRange | None = None
    source_port: PortRange | None = None
    tcp_option: str | None = None
    fragments: bool = False
    packet_length: PortRange | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.sequence < MAX_EDGE_RULES:
            raise ValueError(f"rule sequence {self.sequence} is not in 0..{MAX_EDGE_RULES - 1}")
        if self.action not in RULE_ACTIONS or self.protocol not in RULE_PROTOCOLS:
            raise ValueError(f"unknown action or protocol: {self.action} {self.protocol}")
        has_ports = self.destination_port is not None or self.source_port is not None
        if has_ports and self.protocol not in ("tcp", "udp"):
            raise ValueError(f"ports need tcp or udp, not {self.protocol}")
        if (self.tcp_option is not None or self.fragments) and self.protocol != "tcp":
            raise ValueError(f"tcp options need tcp, not {self.protocol}")
        if self.tcp_option is not None and self.tcp_option not in TCP_OPTIONS:
            raise ValueError(f"unknown tcp option {self.tcp_option!r}")
        object.__setattr__(self, "source", _canonical_source(self.source))

    def request(self) -> dict[str, Any]:
        """The ``POST .../rule`` body: ints for ports, ``tcpOption`` as an object."""
        body: dict[str, Any] = {
            "sequence": self.sequence,
            "action": self.action,
            "protocol": self.protocol,
        }
        if self.source is not None:
            body["source"] = self.source
        for name, ports in (
            ("destinationPort", self.destination_port),
            ("sourcePort", self.source_port),
        ):
            body.update(ports.request(name) if ports else {})
        if self.tcp_option is not None or self.fragments:
            option: dict[str, Any] = {"option": self.tcp_option} if self.tcp_option else {}
            body["tcpOption"] = {**option, **({"fragments": True} if self.fragments else {})}
        if self.packet_length is not None:
            body["l3PacketLength"] = {
                "from": self.packet_length.first,
                "to": self.packet_length.last,
            }
        return body

    def describe(self) -> str:
        """``#1 permit tcp from 192.0.2.0/24 to port 22``."""
        words = [f"#{self.sequence}", self.action, self.protocol, "from", self.source or "any"]
        words += [f"port {self.source_port}"] if self.source_port else []
        words += [f"to port {self.destination_port}"] if self.destination_port else []
        words += [self.tcp_option] if self.tcp_option else []
        words += ["fragments"] if self.fragments else []
        words += [f"length {self.packet_length}"] if self.packet_length else []
        return " ".join(words)


@dataclass(frozen=True)
class ObservedRule:
    rule: EdgeRule
    state: str


@dataclass(frozen=True)
class DedicatedServer:
    name: str
    server_id: int
    ip: str
    datacenter: str
    commercial_range: str | None
    monitoring: bool
    state: str
    reverse: str | None


@dataclass(frozen=True)
class ServiceInfo:
    status: str
    expiration: dt.date
    renewal_type: str | None
    automatic_renew: bool | None


@dataclass(frozen=True)
class Firewall:
    address: str
    enabled: bool
    state: str


@dataclass(frozen=True)
class Mitigation:
    address: str
    auto: bool
    state: str


@dataclass(frozen=True)
class ReverseDns:
    address: str
    name: str


@dataclass(frozen=True)
class BackupStorage:
    name: str
    type: str
    quota_gb: float | None
    usage_percent: float | None
    read_only_date: str | None


@dataclass(frozen=True)
class BackupProtocols:
    ftp: bool = False
    nfs: bool = False
    cifs: bool = False

    def request(self) -> dict[str, bool]:
        return {"ftp": self.ftp, "nfs": self.nfs, "cifs": self.cifs}


@dataclass(frozen=True)
class BackupAccess:
    ip_block: str
    protocols: BackupProtocols
    is_applied: bool


@dataclass(frozen=True)
class Task:
    task_id: int
    function: str
    status: str


# -- response parsing -------------------------------------------------------------------------


def _canonical_source(source: str | None) -> str | None:
    """``None`` for any source, else an IPv4 CIDR (a bare address is a /32)."""
    if source is None or source.strip().lower() in _ANY_SOURCE:
        return None
    network = ipaddress.ip_network(source.strip(), strict=False)
    if network.version != 4:
        raise ValueError(f"the edge firewall only filters IPv4 sources, not {source}")
    return str(network)


def _ports(raw: Any) -> PortRange | None:
    """``"eq 22"``, ``"range 1000 2000"``, ``"22"``, ``22`` or ``{"from", "to"}``."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(f"not a port: {raw!r}")
    if isinstance(raw, int):
        return PortRange.single(raw)
    if isinstance(raw, dict):
        return PortRange(int(raw["from"]), int(raw["to"]))
    words = str(raw).replace("-", " ").split()
    if words and words[0] in ("eq", "range"):
        words = words[1:]
    numbers = [int(word) for word in words]
    if len(numbers) not in (1, 2):
        raise ValueError(f"not a port: {raw!r}")
    return PortRange(numbers[0], numbers[-1])


def parse_rule(raw: Any) -> ObservedRule:
    """A ``ip.FirewallNetworkRule`` response as an :class:`ObservedRule`."""
    try:
        words = str(raw.get("tcpOption") or "").split()
        option = next((w for w in words if w in TCP_OPTIONS), None)
        rule = EdgeRule(
            sequence=int(raw["sequence"]),
            action=str(raw["action"]),
            protocol=str(raw["protocol"]),
            source=raw.get("source"),
            destination_port=_ports(raw.get("destinationPort")),
            source_port=_ports(raw.get("sourcePort")),
            tcp_option=option,
            fragments=bool(raw.get("fragments")) or "fragments" in words,
            packet_length=_ports(raw.get("l3PacketLength")),
        )
        return ObservedRule(rule, str(raw["state"]))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise OvhUnexpectedResponse(
            f"unexpected firewall rule from OVH: {raw!r} ({error})"
        ) from None


def _parsed(kind: str, raw: Any, build: Callable[[Any], T]) -> T:
    try:
        return build(raw)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise OvhUnexpectedResponse(f"unexpected {kind} from OVH: {raw!r} ({error!r})") from None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _server(raw: Any) -> DedicatedServer:
    return DedicatedServer(
        name=str(raw["name"]),
        server_id=int(raw["serverId"]),
        ip=str(raw["ip"]),
        datacenter=str(raw["datacenter"]),
        commercial_range=_optional(raw.get("commercialRange")),
        monitoring=bool(raw["monitoring"]),
        state=str(raw["state"]),
        reverse=_optional(raw.get("reverse")),
    )


def _service_info(raw: Any) -> ServiceInfo:
    renew = raw.get("renew") or {}
    automatic = renew.get("automatic")
    return ServiceInfo(
        status=str(raw["status"]),
        expiration=dt.date.fromisoformat(str(raw["expiration"])[:10]),
        renewal_type=_optional(raw.get("renewalType")),
        automatic_renew=None if automatic is None else bool(automatic),
    )


def _task(raw: Any) -> Task:
    return Task(int(raw["taskId"]), str(raw["function"]), str(raw["status"]))


def _quantity(raw: Any) -> float | None:
    return None if raw is None else float(raw["value"])


def _backup_storage(raw: Any) -> BackupStorage:
    return BackupStorage(
        name=str(raw["ftpBackupName"]),
        type=str(raw["type"]),
        quota_gb=_quantity(raw.get("quota")),
        usage_percent=_quantity(raw.get("usage")),
        read_only_date=_optional(raw.get("readOnlyDate")),
    )


def _backup_access(raw: Any) -> BackupAccess:
    flags = BackupProtocols(bool(raw["ftp"]), bool(raw["nfs"]), bool(raw["cifs"]))
    return BackupAccess(str(raw["ipBlock"]), flags, bool(raw["isApplied"]))


def _list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"expected a list, got {type(raw).__name__}")
    return raw


def _strings(kind: str, raw: Any) -> list[str]:
    return _parsed(kind, raw, lambda r: [str(x) for x in _list(r)])


def _ints(kind: str, raw: Any) -> list[int]:
    return _parsed(kind, raw, lambda r: [int(x) for x in _list(r)])


# -- paths ------------------------------------------------------------------------------------


def _path(template: str, *params: str | int) -> str:
    return template.format(*(quote_block(str(p)) for p in params))


_SERVER_PATH = "/dedicated/server/{}"
_FIREWALL = "/ip/{}/firewall"
_FIREWALL_IP = "/ip/{}/firewall/{}"
_RULES = "/ip/{}/firewall/{}/rule"
_RULE = "/ip/{}/firewall/{}/rule/{}"
_BACKUP_PATH = "/dedicated/server/{}/features/backupFTP"
_ACCESS = "/dedicated/server/{}/features/backupFTP/access"
_ACCESS_ONE = "/dedicated/server/{}/features/backupFTP/access/{}"


# -- dedicated servers ------------------------------------------------------------------------


def list_servers(api: OvhApi) -> list[str]:
    return _strings("server list", api.get("/dedicated/server"))


def get_server(api: OvhApi, name: str) -> DedicatedServer:
    return _parsed("dedicated server", api.get(_path(_SERVER_PATH, name)), _server)


def set_monitoring(api: OvhApi, name: str, enabled: bool) -> None:
    api.put(_path(_SERVER_PATH, name), {"monitoring": enabled})


def server_ips(api: OvhApi, name: str) -> list[str]:
    return _strings("IP list", api.get(_path(_SERVER_PATH + "/ips", name)))


def service_info(api: OvhApi, name: str) -> ServiceInfo:
    return _parsed(
        "serviceInfos", api.get(_path(_SERVER_PATH + "/serviceInfos", name)), _service_info
    )


def server_tasks(
    api: OvhApi, name: str, *, function: str | None = None, status: str | None = None
) -> list[int]:
    filters = {k: v for k, v in (("function", function), ("status", status)) if v is not None}
    return _ints("task list", api.get(_path(_SERVER_PATH + "/task", name), **filters))


def get_task(api: OvhApi, name: str, task_id: int) -> Task:
    return _parsed("task", api.get(_path(_SERVER_PATH + "/task/{}", name, task_id)), _task)


def wait_task(
    api: OvhApi, name: str, task_id: int, *, timeout: float, interval: float = 2.0
) -> Task:
    """Wait for ``done``; a task ending ``cancelled``/``customerError``/``ovhError`` fails."""
    path = _path(_SERVER_PATH + "/task/{}", name, task_id)
    what = f"task {task_id} of {name}"
    raw = api.wait_until_state(
        path,
        "done",
        key="status",
        failed=TASK_FAILED,
        timeout=timeout,
        interval=interval,
        what=what,
    )
    return _parsed("task", raw, _task)


# -- edge firewall ----------------------------------------------------------------------------


def list_firewalls(api: OvhApi, block: str) -> list[str]:
    return _strings("firewall list", api.get(_path(_FIREWALL, block)))


def get_firewall(api: OvhApi, block: str, address: str) -> Firewall | None:
    """The firewall of ``address`` in ``block``, or ``None`` (404: not on the firewall)."""
    raw = api.find(_path(_FIREWALL_IP, block, address))
    return None if raw is None else _parsed("firewall", raw, _firewall)


def _firewall(raw: Any) -> Firewall:
    return Firewall(str(raw["ipOnFirewall"]), bool(raw["enabled"]), str(raw["state"]))


def create_firewall(api: OvhApi, block: str, address: str) -> None:
    """Put ``address`` on the edge firewall (created disabled; see set_firewall_enabled)."""
    api.post(
        _path(_FIREWALL, block),
        {"ipOnFirewall": address},
        reread=lambda: get_firewall(api, block, address) is not None,
    )


def set_firewall_enabled(api: OvhApi, block: str, address: str, enabled: bool) -> None:
    """PUT ``enabled``; trust it only once :func:`wait_firewall_ok` has returned."""
    api.put(_path(_FIREWALL_IP, block, address), {"enabled": enabled})


def wait_firewall_ok(
    api: OvhApi, block: str, address: str, *, timeout: float, interval: float = 2.0
) -> Firewall:
    what = f"the edge firewall of {address}"
    raw = api.wait_until_state(
        _path(_FIREWALL_IP, block, address), "ok", timeout=timeout, interval=interval, what=what
    )
    return _parsed("firewall", raw, _firewall)


def rule_numbers(api: OvhApi, block: str, address: str, *, state: str | None = None) -> list[int]:
    query = {} if state is None else {"state": state}
    return _ints("rule list", api.get(_path(_RULES, block, address), **query))


def get_rule(api: OvhApi, block: str, address: str, sequence: int) -> ObservedRule | None:
    raw = api.find(_path(_RULE, block, address, sequence))
    return None if raw is None else parse_rule(raw)


def firewall_rules(api: OvhApi, block: str, address: str) -> list[ObservedRule]:
    """Every rule of ``address`` with its state, by sequence (rules gone meanwhile skipped)."""
    found = (get_rule(api, block, address, n) for n in rule_numbers(api, block, address))
    return [rule for rule in found if rule is not None]


def create_rule(api: OvhApi, block: str, address: str, rule: EdgeRule) -> ObservedRule:
    """POST a rule (``creationPending`` at first); OVH must echo the rule dagsync asked for."""
    raw = api.post(
        _path(_RULES, block, address),
        rule.request(),
        reread=lambda: get_rule(api, block, address, rule.sequence) is not None,
    )
    observed = parse_rule(raw) if raw is not None else get_rule(api, block, address, rule.sequence)
    if observed is None or observed.rule != rule:
        got = "nothing" if observed is None else observed.rule.describe()
        raise OvhConflict(f"asked OVH for rule {rule.describe()} on {address}, it holds {got}")
    return observed


def delete_rule(api: OvhApi, block: str, address: str, sequence: int) -> None:
    """DELETE a rule (it goes ``removalPending``, then 404: see :func:`wait_rule_gone`)."""
    api.delete(_path(_RULE, block, address, sequence))


def wait_rule_ok(
    api: OvhApi, block: str, address: str, sequence: int, *, timeout: float, interval: float = 2.0
) -> ObservedRule:
    what = f"edge firewall rule {sequence} of {address}"
    path = _path(_RULE, block, address, sequence)
    return parse_rule(
        api.wait_until_state(path, "ok", timeout=timeout, interval=interval, what=what)
    )


def wait_rule_gone(
    api: OvhApi, block: str, address: str, sequence: int, *, timeout: float, interval: float = 2.0
) -> None:
    what = f"edge firewall rule {sequence} of {address}"
    api.wait_until_gone(
        _path(_RULE, block, address, sequence), timeout=timeout, interval=interval, what=what
    )


# -- mitigation and reverse DNS ---------------------------------------------------------------


def list_mitigations(api: OvhApi, block: str) -> list[str]:
    return _strings("mitigation list", api.get(_path("/ip/{}/mitigation", block)))


def get_mitigation(api: OvhApi, block: str, address: str) -> Mitigation | None:
    raw = api.find(_path("/ip/{}/mitigation/{}", block, address))
    return None if raw is None else _parsed("mitigation", raw, _mitigation)


def _mitigation(raw: Any) -> Mitigation:
    return Mitigation(str(raw["ipOnMitigation"]), bool(raw["auto"]), str(raw["state"]))


def list_reverses(api: OvhApi, block: str) -> list[str]:
    return _strings("reverse list", api.get(_path("/ip/{}/reverse", block)))


def get_reverse(api: OvhApi, block: str, address: str) -> ReverseDns | None:
    raw = api.find(_path("/ip/{}/reverse/{}", block, address))
    return None if raw is None else _parsed("reverse", raw, _reverse)


def _reverse(raw: Any) -> ReverseDns:
    return ReverseDns(str(raw["ipReverse"]), str(raw["reverse"]))


def set_reverse(api: OvhApi, block: str, address: str, name: str) -> ReverseDns:
    """POST (an overwrite, so safe to repeat); :class:`OvhReverseNotResolved` until the name
    resolves forward to ``address``."""
    raw = api.post(
        _path("/ip/{}/reverse", block), {"ipReverse": address, "reverse": name}, idempotent=True
    )
    return _parsed("reverse", raw, _reverse)


def delete_reverse(api: OvhApi, block: str, address: str) -> None:
    api.delete(_path("/ip/{}/reverse/{}", block, address))


def same_reverse(a: str | None, b: str | None) -> bool:
    """Reverse names compare without case and trailing dot."""

    def norm(name: str | None) -> str | None:
        return None if name is None else name.rstrip(".").lower()

    return norm(a) == norm(b)


# -- backup storage ---------------------------------------------------------------------------


def get_backup_storage(api: OvhApi, name: str) -> BackupStorage | None:
    """The backup storage of server ``name``, or ``None`` while it is not activated."""
    raw = api.find(_path(_BACKUP_PATH, name))
    return None if raw is None else _parsed("backup storage", raw, _backup_storage)


def activate_backup_storage(api: OvhApi, name: str) -> Task | None:
    """POST: a ``createBackupFTP`` task (``None`` if an uncertain attempt turned out applied)."""

    def applied() -> bool:
        pending = [
            t
            for s in ("todo", "doing", "init")
            for t in server_tasks(api, name, function="createBackupFTP", status=s)
        ]
        return bool(pending) or get_backup_storage(api, name) is not None

    raw = api.post(_path(_BACKUP_PATH, name), reread=applied)
    return None if raw is None else _parsed("task", raw, _task)


def wait_backup_storage(
    api: OvhApi, name: str, *, timeout: float, interval: float = 2.0
) -> BackupStorage:
    def probe() -> tuple[bool, str]:
        return get_backup_storage(api, name) is not None, "not activated"

    api.wait_for(
        probe,
        what=f"the backup storage of {name}",
        wanted="active",
        timeout=timeout,
        interval=interval,
    )
    storage = get_backup_storage(api, name)
    if storage is None:
        raise OvhNotFound(f"the backup storage of {name} disappeared")
    return storage


def list_backup_access(api: OvhApi, name: str) -> list[str]:
    return _strings("backup access list", api.get(_path(_ACCESS, name)))


def get_backup_access(api: OvhApi, name: str, ip_block: str) -> BackupAccess | None:
    raw = api.find(_path(_ACCESS_ONE, name, ip_block))
    return None if raw is None else _parsed("backup access", raw, _backup_access)


def add_backup_access(
    api: OvhApi, name: str, ip_block: str, protocols: BackupProtocols
) -> Task | None:
    """POST an ACL (an ``applyBackupFtpAcls`` task; see :func:`wait_backup_access_applied`)."""
    raw = api.post(
        _path(_ACCESS, name),
        {"ipBlock": ip_block, **protocols.request()},
        reread=lambda: get_backup_access(api, name, ip_block) is not None,
    )
    return None if raw is None else _parsed("task", raw, _task)


def update_backup_access(api: OvhApi, name: str, ip_block: str, protocols: BackupProtocols) -> None:
    api.put(_path(_ACCESS_ONE, name, ip_block), protocols.request())


def delete_backup_access(api: OvhApi, name: str, ip_block: str) -> Task | None:
    """DELETE an ACL (a task; the ACL disappears when it is done)."""
    raw = api.delete(_path(_ACCESS_ONE, name, ip_block))
    return None if raw is None else _parsed("task", raw, _task)


def wait_backup_access_applied(
    api: OvhApi, name: str, ip_block: str, *, timeout: float, interval: float = 2.0
) -> BackupAccess:
    last: list[BackupAccess | None] = [None]

    def probe() -> tuple[bool, str]:
        last[0] = get_backup_access(api, name, ip_block)
        if last[0] is None:
            raise OvhNotFound(f"the backup access of {ip_block} on {name} disappeared")
        return last[0].is_applied, "applied" if last[0].is_applied else "not applied"

    what = f"the backup access of {ip_block} on {name}"
    api.wait_for(probe, what=what, wanted="applied", timeout=timeout, interval=interval)
    if last[0] is None:  # unreachable: the probe raises instead
        raise OvhNotFound(f"{what} disappeared")
    return last[0]


def wait_backup_access_gone(
    api: OvhApi, name: str, ip_block: str, *, timeout: float, interval: float = 2.0
) -> None:
    what = f"the backup access of {ip_block} on {name}"
    api.wait_until_gone(
        _path(_ACCESS_ONE, name, ip_block), timeout=timeout, interval=interval, what=what
    )
