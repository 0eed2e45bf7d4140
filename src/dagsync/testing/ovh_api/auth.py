"""Who may call: application keys, consumer keys, signatures, access rules, rate limits."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.router import Route
from dagsync.testing.ovh_api.signing import compute_signature
from dagsync.testing.ovh_api.state import AccessRule, Credential
from dagsync.testing.ovh_api.wire import (
    ApiError,
    Call,
    as_enum,
    as_object,
    as_str,
    bad_request,
    class_error,
    legacy_error,
    now_iso,
    require,
)

__all__ = [
    "METHODS",
    "ROUTES",
    "ForbiddenStyle",
    "RateLimit",
    "TokenBucket",
    "authenticate",
    "check_grant",
    "new_credential",
]

METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
UNSIGNED = frozenset({("GET", "/auth/time"), ("POST", "/auth/credential")})
RULELESS = frozenset({("GET", "/auth/currentCredential"), ("POST", "/auth/logout")})
NOT_GRANTED = "This call has not been granted"
ForbiddenStyle = Literal["legacy", "class"]


@dataclass(frozen=True)
class Incoming:
    """What the signature check needs from a request."""

    method: str
    path: str
    full_url: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str


def authenticate(backend: Backend, request: Incoming, window: float) -> Credential | None:
    """The caller's credential (``None`` for unsigned calls), or raise the OVH auth error."""
    if (request.method, request.path) == ("GET", "/auth/time"):
        return None
    app = backend.account.applications.get(request.headers.get("x-ovh-application", ""))
    if app is None:
        raise legacy_error(403, "INVALID_KEY", "Invalid application key")
    if (request.method, request.path) in UNSIGNED:
        return None
    key = request.headers.get("x-ovh-consumer")
    if not key:
        raise legacy_error(403, "NOT_CREDENTIAL", "You must login first")
    credential = backend.account.credentials.get(key)
    if credential is None or credential.application_key != app.key:
        raise legacy_error(403, "INVALID_CREDENTIAL", "This credential is not valid")
    _check_signature(app.secret, key, request)
    _check_timestamp(backend, request.headers.get("x-ovh-timestamp", ""), window)
    _check_state(credential, request.client_ip)
    credential.last_use = now_iso()
    return credential


def _check_signature(secret: str, key: str, request: Incoming) -> None:
    timestamp = request.headers.get("x-ovh-timestamp", "")
    given = request.headers.get("x-ovh-signature", "")
    expected = compute_signature(
        secret, key, request.method, request.full_url, request.body, timestamp
    )
    if not timestamp or not hmac.compare_digest(given.encode(), expected.encode()):
        raise legacy_error(400, "INVALID_SIGNATURE", "Invalid signature")


def _check_timestamp(backend: Backend, raw: str, window: float) -> None:
    """Outside ``window`` seconds of the server clock: 400 ``QUERY_TIME_OUT`` (a guess)."""
    if not raw.isdigit() or abs(int(raw) - backend.api_time()) > window:
        raise legacy_error(400, "QUERY_TIME_OUT", "Query out of time")


def _check_state(credential: Credential, client_ip: str) -> None:
    if credential.state == "pendingValidation":
        raise legacy_error(403, "NOT_CREDENTIAL", "This credential has not been validated yet")
    if credential.state != "validated":
        raise legacy_error(403, "INVALID_CREDENTIAL", "This credential is not valid")
    allowed = credential.allowed_ips
    if allowed is not None and not _ip_allowed(client_ip, allowed):
        raise legacy_error(403, "FORBIDDEN", f"This credential cannot be used from {client_ip}")


def _ip_allowed(client_ip: str, blocks: list[str]) -> bool:
    address = ipaddress.ip_address(client_ip)
    return any(address in ipaddress.ip_network(block, strict=False) for block in blocks)


def rule_matches(rule: AccessRule, method: str, path: str) -> bool:
    """``*`` matches anything, ``/`` included; ``/ip`` and ``/ip/*`` are distinct rules."""
    pattern = re.escape(rule.path).replace(r"\*", ".*")
    return rule.method == method and re.fullmatch(pattern, path) is not None


def check_grant(credential: Credential, method: str, path: str, style: ForbiddenStyle) -> None:
    """403 unless one of the credential's rules covers ``method path`` (decoded, no query)."""
    if (method, path) in RULELESS:
        return
    if any(rule_matches(rule, method, path) for rule in credential.rules):
        return
    if style == "class":
        raise class_error(403, "Client::Forbidden", NOT_GRANTED)
    raise legacy_error(403, "NOT_GRANTED_CALL", NOT_GRANTED)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per consumer key: ``per_minute`` refill, ``burst`` capacity."""

    per_minute: float = 60.0
    burst: int | None = None

    @property
    def capacity(self) -> float:
        return float(self.burst if self.burst is not None else max(1, int(self.per_minute)))


@dataclass
class TokenBucket:
    limit: RateLimit
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        refill = (now - self.stamp) * self.limit.per_minute / 60.0
        self.tokens = min(self.limit.capacity, self.tokens + refill)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def too_many_requests() -> ApiError:
    return class_error(429, "Client::TooManyRequests", "Too many requests, slow down")


def new_credential(
    backend: Backend,
    application_key: str,
    rules: list[AccessRule],
    *,
    state: str = "pendingValidation",
    allowed_ips: list[str] | None = None,
) -> Credential:
    credential = Credential(
        consumer_key=secrets.token_hex(16),
        application_key=application_key,
        state=state,
        rules=rules,
        credential_id=backend.account.new_id(),
        creation=now_iso(),
        allowed_ips=allowed_ips,
        validation_token=secrets.token_urlsafe(16),
    )
    backend.account.credentials[credential.consumer_key] = credential
    return credential


def parse_rules(value: Any) -> list[AccessRule]:
    if not isinstance(value, list):
        raise bad_request("Invalid type for accessRules: expected a list")
    rules = [as_object("accessRules[]", item, ("method", "path")) for item in value]
    return [
        AccessRule(
            as_enum("method", require(r, "method"), METHODS), as_str("path", require(r, "path"))
        )
        for r in rules
    ]


def _allowed_ips(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request("Invalid type for allowedIPs: expected a list")
    try:
        return [str(ipaddress.ip_network(as_str("allowedIPs[]", v), strict=False)) for v in value]
    except ValueError as error:
        raise bad_request(f"Invalid value for allowedIPs: {error}") from error


def get_time(backend: Backend, call: Call) -> int:
    return backend.api_time()


def request_credential(backend: Backend, call: Call) -> dict[str, Any]:
    body = call.json_object(("accessRules", "redirection", "allowedIPs"))
    rules = parse_rules(require(body, "accessRules"))
    if body.get("redirection") is not None:
        as_str("redirection", body["redirection"])
    credential = new_credential(
        backend, call.application_key or "", rules, allowed_ips=_allowed_ips(body.get("allowedIPs"))
    )
    return {
        "consumerKey": credential.consumer_key,
        "state": credential.state,
        "validationUrl": f"{backend.root_url}/auth/?credentialToken={credential.validation_token}",
    }


def credential_json(backend: Backend, credential: Credential) -> dict[str, Any]:
    application = backend.account.applications[credential.application_key]
    return {
        "credentialId": credential.credential_id,
        "applicationId": application.application_id,
        "rules": [rule.to_json() for rule in credential.rules],
        "status": credential.state,
        "creation": credential.creation,
        "expiration": None,
        "lastUse": credential.last_use,
        "ovhSupport": False,
        "allowedIPs": credential.allowed_ips,
    }


def current_credential(backend: Backend, call: Call) -> dict[str, Any]:
    return credential_json(backend, backend.account.credentials[call.consumer_key or ""])


def logout(backend: Backend, call: Call) -> None:
    backend.account.credentials[call.consumer_key or ""].state = "expired"


ROUTES = (
    Route("GET", "/auth/time", get_time),
    Route("POST", "/auth/credential", request_credential),
    Route("GET", "/auth/currentCredential", current_credential),
    Route("POST", "/auth/logout", logout),
)
