"""Helpers of the typed calls: OVH responses read into dagsync's types, or a clear error.

A response of an unexpected shape raises :class:`~.errors.OvhUnexpectedResponse` (the state is
then unknown, never absent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dagsync.ovhapi.errors import OvhUnexpectedResponse
from dagsync.ovhapi.shapes import Task

__all__ = ["ints", "optional", "parse_task", "parsed", "strings"]

T = TypeVar("T")


def parsed(kind: str, raw: Any, build: Callable[[Any], T]) -> T:
    try:
        return build(raw)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise OvhUnexpectedResponse(f"unexpected {kind} from OVH: {raw!r} ({error!r})") from None


def optional(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_task(raw: Any) -> Task:
    return Task(int(raw["taskId"]), str(raw["function"]), str(raw["status"]))


def _list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TypeError(f"expected a list, got {type(raw).__name__}")
    return raw


def strings(kind: str, raw: Any) -> list[str]:
    return parsed(kind, raw, lambda r: [str(x) for x in _list(r)])


def ints(kind: str, raw: Any) -> list[int]:
    return parsed(kind, raw, lambda r: [int(x) for x in _list(r)])
