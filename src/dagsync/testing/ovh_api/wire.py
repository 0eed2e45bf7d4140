"""What travels on the wire: API errors, typed access to bodies and query strings, dates."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

__all__ = [
    "ApiError",
    "Call",
    "bad_request",
    "class_error",
    "conflict",
    "legacy_error",
    "not_found",
    "now_iso",
]

_PHRASES = {460: "Service Expired", 429: "Too Many Requests"}


class ApiError(Exception):
    """An answer other than 200: a status and the JSON body OVH would send."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status}: {body.get('message')}")
        self.status = status
        self.body = dict(body)


def legacy_error(status: int, code: str, message: str) -> ApiError:
    """The auth-layer shape: ``{"errorCode", "httpCode", "message"}``."""
    phrase = _PHRASES.get(status) or HTTPStatus(status).phrase
    return ApiError(
        status, {"errorCode": code, "httpCode": f"{status} {phrase}", "message": message}
    )


def class_error(status: int, error_class: str, message: str) -> ApiError:
    """The application shape: ``{"class", "message"}``."""
    return ApiError(status, {"class": error_class, "message": message})


def not_found(message: str) -> ApiError:
    return class_error(404, "Client::NotFound", message)


def bad_request(message: str) -> ApiError:
    return class_error(400, "Client::BadRequest", message)


def conflict(message: str) -> ApiError:
    return class_error(409, "Client::Conflict", message)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Call:
    """One routed API call as the handlers see it."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    application_key: str | None = None
    consumer_key: str | None = None

    def json_object(self, allowed: Collection[str] | None = None) -> dict[str, Any]:
        """The body as a JSON object (an absent body is ``{}``); unknown keys give a 400."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError as error:
            raise bad_request(f"Invalid JSON body: {error}") from error
        if not isinstance(value, dict):
            raise bad_request("The body must be a JSON object")
        if allowed is not None:
            reject_unknown(value, allowed)
        return value

    def query_bool(self, name: str) -> bool | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            raise bad_request(f"Invalid value for parameter {name}: {raw!r} is not a boolean")
        return raw == "true"

    def query_enum(self, name: str, choices: Collection[str]) -> str | None:
        raw = self.query.get(name)
        if raw is not None and raw not in choices:
            raise bad_request(
                f"Invalid value for parameter {name}: {raw!r} not in {sorted(choices)}"
            )
        return raw


def reject_unknown(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"Unknown parameter(s): {', '.join(unknown)}")


def require(body: Mapping[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise bad_request(f"Missing parameter: {name}")
    return body[name]


def as_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"Invalid type for {name}: expected a boolean")
    return value


def as_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid type for {name}: expected an integer")
    if not low <= value <= high:
        raise bad_request(f"Invalid value for {name}: {value} not in [{low}, {high}]")
    return value


def as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise bad_request(f"Invalid type for {name}: expected a string")
    return value


def as_optional_str(name: str, value: Any) -> str | None:
    return None if value is None else as_str(name, value)


def as_enum(name: str, value: Any, choices: Collection[str]) -> str:
    if value not in choices:
        raise bad_request(f"Invalid value for {name}: {value!r} not in {sorted(choices)}")
    return str(value)


def as_object(name: str, value: Any, allowed: Collection[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"Invalid type for {name}: expected an object")
    reject_unknown(value, allowed)
    return value


def as_ipv4(name: str, value: Any) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(as_str(name, value))
    except ValueError as error:
        raise bad_request(f"Invalid value for {name}: {value!r} is not an IPv4 address") from error


def as_ip(name: str, value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(as_str(name, value))
    except ValueError as error:
        raise bad_request(f"Invalid value for {name}: {value!r} is not an IP address") from error


def as_ipv4_block(name: str, value: Any) -> ipaddress.IPv4Network:
    """An IPv4 CIDR block (a bare address is a /32); host bits must be zero."""
    try:
        return ipaddress.IPv4Network(as_str(name, value), strict=True)
    except ValueError as error:
        raise bad_request(f"Invalid value for {name}: {value!r} is not an IPv4 block") from error
