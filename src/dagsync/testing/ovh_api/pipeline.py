"""One request, start to finish: faults, authentication, rate limit, grants, routing, log."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from dagsync.testing.ovh_api import auth, backup, firewall, ip, servers
from dagsync.testing.ovh_api.auth import ForbiddenStyle, Incoming, RateLimit, TokenBucket
from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.faults import JSON_TYPE, Fault, FaultQueue
from dagsync.testing.ovh_api.router import Route, match
from dagsync.testing.ovh_api.wire import ApiError, Call, class_error, not_found

__all__ = ["API_PREFIX", "ROUTES", "LoggedRequest", "Pipeline", "RawRequest", "Reply", "Settings"]

API_PREFIX = "/1.0"
VALIDATION_PATH = "/auth/"
ROUTES: tuple[Route, ...] = (
    *auth.ROUTES,
    *servers.ROUTES,
    *backup.ROUTES,
    *firewall.ROUTES,
    *ip.ROUTES,
)


@dataclass(frozen=True)
class RawRequest:
    """A request as received: ``target`` is the raw request-target (path and query)."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    hang: bool = False
    hang_seconds: float | None = None
    headers: tuple[tuple[str, str], ...] = ()


class LoggedRequest(NamedTuple):
    """One served request: ``path`` is raw (``%2F`` kept), without ``/1.0`` and query.

    ``status`` is 0 for a hung connection.
    """

    method: str
    path: str
    status: int


@dataclass
class Settings:
    timestamp_window: float = 300.0
    forbidden_style: ForbiddenStyle = "legacy"
    rate_limit: RateLimit | None = None


def json_reply(status: int, value: Any) -> Reply:
    return Reply(status, json.dumps(value).encode("utf-8"))


def fault_reply(fault: Fault) -> Reply:
    return Reply(
        fault.status, fault.body, fault.content_type, fault.hang, fault.hang_seconds, fault.headers
    )


class Pipeline:
    """Serves requests one at a time under :attr:`lock` (the whole emulator state)."""

    def __init__(self, backend: Backend, settings: Settings) -> None:
        self.lock = threading.RLock()
        self.backend = backend
        self.settings = settings
        self.faults = FaultQueue()
        self.log: list[LoggedRequest] = []
        self.internal_errors: list[Exception] = []
        self._buckets: dict[str, TokenBucket] = {}

    def handle(self, request: RawRequest) -> Reply:
        with self.lock:
            target = urlsplit(request.target)
            path = target.path
            if path.startswith(API_PREFIX + "/"):
                path = path[len(API_PREFIX) :]
                reply = self._api(request, path, target)
            elif path == VALIDATION_PATH:
                reply = self._validation_page(target.query)
            else:
                reply = json_reply(404, not_found("Got an invalid (or empty) URL").body)
            self.log.append(LoggedRequest(request.method, path, reply.status))
            return reply

    def _api(self, request: RawRequest, path: str, target: SplitResult) -> Reply:
        fault = self.faults.take(request.method, path)
        if fault is not None:
            return fault_reply(fault)
        try:
            return json_reply(200, self._call(request, path, target))
        except ApiError as error:
            return json_reply(error.status, error.body)
        except Exception as error:  # an emulator bug: answer like OVH would, keep it for tests
            self.internal_errors.append(error)
            return json_reply(500, {"class": "Server::InternalServerError", "message": repr(error)})

    def _call(self, request: RawRequest, path: str, target: SplitResult) -> Any:
        decoded = unquote(path)
        host = request.headers.get("host") or self.backend.root_url.removeprefix("http://")
        incoming = Incoming(
            method=request.method,
            path=decoded,
            full_url=f"http://{host}{request.target}",
            headers=request.headers,
            body=request.body,
            client_ip=request.client_ip,
        )
        credential = auth.authenticate(self.backend, incoming, self.settings.timestamp_window)
        if credential is not None:
            self._throttle(credential.consumer_key)
            auth.check_grant(credential, request.method, decoded, self.settings.forbidden_style)
        handler, params = match(ROUTES, request.method, path)
        call = Call(
            method=request.method,
            path=decoded,
            params=params,
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            body=request.body,
            application_key=request.headers.get("x-ovh-application"),
            consumer_key=None if credential is None else credential.consumer_key,
        )
        return handler(self.backend, call)

    def _throttle(self, consumer_key: str) -> None:
        limit = self.settings.rate_limit
        if limit is None:
            return
        now = self.backend.now()
        bucket = self._buckets.get(consumer_key)
        if bucket is None or bucket.limit != limit:
            bucket = self._buckets[consumer_key] = TokenBucket(limit, limit.capacity, now)
        if not bucket.take(now):
            raise auth.too_many_requests()

    def _validation_page(self, query: str) -> Reply:
        """What the user's visit to ``validationUrl`` does: validate the pending key."""
        token = dict(parse_qsl(query)).get("credentialToken")
        credentials = self.backend.account.credentials.values()
        credential = next((c for c in credentials if token and c.validation_token == token), None)
        if credential is None:
            return json_reply(404, not_found("Unknown credential token").body)
        if credential.state != "pendingValidation":
            error = class_error(400, "Client::BadRequest", f"This credential is {credential.state}")
            return json_reply(400, error.body)
        credential.state = "validated"
        return json_reply(200, {"consumerKey": credential.consumer_key, "state": credential.state})
