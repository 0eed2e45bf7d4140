"""Route table plumbing: ``METHOD /path/{param}`` patterns matched on raw path segments."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from dagsync.testing.ovh_api.backend import Backend
from dagsync.testing.ovh_api.wire import Call, class_error, not_found

__all__ = ["Handler", "Route", "match"]

Handler = Callable[[Backend, Call], Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler

    def bind(self, segments: list[str]) -> dict[str, str] | None:
        """Path parameters if the raw ``segments`` fit this pattern, else ``None``.

        Splitting happens before decoding, so ``203.0.113.0%2F24`` is one segment and an
        unescaped ``203.0.113.0/24`` is two (and matches nothing).
        """
        expected = self.pattern.split("/")[1:]
        if len(expected) != len(segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(expected, segments, strict=True):
            if want.startswith("{"):
                if not got:
                    return None
                params[want[1:-1]] = unquote(got)
            elif want != got:
                return None
        return params


def match(routes: Iterable[Route], method: str, raw_path: str) -> tuple[Handler, dict[str, str]]:
    """The handler for ``method raw_path``: 404 for an unknown path, 405 for a wrong method."""
    segments = raw_path.split("/")[1:]
    path_exists = False
    for route in routes:
        params = route.bind(segments)
        if params is None:
            continue
        if route.method == method:
            return route.handler, params
        path_exists = True
    if path_exists:
        raise class_error(405, "Client::MethodNotAllowed", f"Method {method} not allowed here")
    raise not_found("Got an invalid (or empty) URL")
