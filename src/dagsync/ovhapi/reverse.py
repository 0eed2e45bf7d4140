"""Typed calls on the reverse DNS of the addresses of an IP block."""

from __future__ import annotations

from typing import Any

from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.responses import parsed, strings
from dagsync.ovhapi.shapes import ReverseDns, api_path

__all__ = ["delete_reverse", "get_reverse", "list_reverses", "same_reverse", "set_reverse"]


def list_reverses(api: OvhApi, block: str) -> list[str]:
    return strings("reverse list", api.get(api_path("/ip/{}/reverse", block)))


def get_reverse(api: OvhApi, block: str, address: str) -> ReverseDns | None:
    raw = api.find(api_path("/ip/{}/reverse/{}", block, address))
    return None if raw is None else parsed("reverse", raw, _reverse)


def _reverse(raw: Any) -> ReverseDns:
    return ReverseDns(str(raw["ipReverse"]), str(raw["reverse"]))


def set_reverse(api: OvhApi, block: str, address: str, name: str) -> ReverseDns:
    """POST (an overwrite, so safe to repeat); :class:`OvhReverseNotResolved` until the name
    resolves forward to ``address``."""
    raw = api.post(
        api_path("/ip/{}/reverse", block), {"ipReverse": address, "reverse": name}, idempotent=True
    )
    return parsed("reverse", raw, _reverse)


def delete_reverse(api: OvhApi, block: str, address: str) -> None:
    api.delete(api_path("/ip/{}/reverse/{}", block, address))


def same_reverse(a: str | None, b: str | None) -> bool:
    """Reverse names compare without case and trailing dot."""

    def norm(name: str | None) -> str | None:
        return None if name is None else name.rstrip(".").lower()

    return norm(a) == norm(b)
