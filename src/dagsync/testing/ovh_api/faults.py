"""Injected faults: what the infrastructure in front of the API can do to a call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["JSON_TYPE", "Fault", "FaultQueue"]

JSON_TYPE = "application/json; charset=utf-8"
_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Fault:
    """A canned answer (or none at all, when ``hang``) that replaces the real one."""

    status: int
    body: bytes = b"null"
    content_type: str = JSON_TYPE
    hang: bool = False
    hang_seconds: float | None = None
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers (e.g. Retry-After)

    @classmethod
    def json(cls, status: int, body: Mapping[str, Any]) -> Fault:
        return cls(status, json.dumps(dict(body)).encode())

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        """A 429; with ``retry_after``, a ``Retry-After`` header of that many seconds."""
        body = {"class": "Client::TooManyRequests", "message": "Too many requests"}
        headers = () if retry_after is None else (("Retry-After", f"{retry_after:g}"),)
        return cls(429, json.dumps(body).encode(), headers=headers)

    @classmethod
    def server_error(cls) -> Fault:
        return cls.json(
            500, {"class": "Server::InternalServerError", "message": "Internal server error"}
        )

    @classmethod
    def unavailable(cls) -> Fault:
        message = "Service is temporarily unavailable"
        return cls.json(503, {"class": "Server::ServiceUnavailable", "message": message})

    @classmethod
    def bad_gateway_html(cls) -> Fault:
        """An HTML 502 page from the front proxy: not JSON, so python-ovh raises InvalidResponse."""
        return cls(502, _BAD_GATEWAY_PAGE, "text/html")

    @classmethod
    def service_expired(cls) -> Fault:
        return cls.json(
            460, {"class": "Client::ServiceExpired", "message": "This service is expired"}
        )

    @classmethod
    def hung(cls, seconds: float | None = None) -> Fault:
        """Accept the request and never answer: until ``seconds`` pass or the emulator stops."""
        return cls(0, b"", hang=True, hang_seconds=seconds)


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None
    path_prefix: str | None
    method: str | None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.path_prefix is None:
            return path != "/auth/time"
        return path.startswith(self.path_prefix)


class FaultQueue:
    """Armed faults, first armed first served; callers hold the emulator lock."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def arm(
        self, fault: Fault, count: int | None, path_prefix: str | None, method: str | None
    ) -> None:
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1 (or None for always), not {count}")
        self._armed.append(_Armed(fault, count, path_prefix, method and method.upper()))

    def clear(self) -> None:
        self._armed.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if any; a counted fault is used up by it."""
        for armed in self._armed:
            if not armed.matches(method, path):
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed.remove(armed)
            return armed.fault
        return None
