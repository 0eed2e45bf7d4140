"""Small helpers the rule modules share: derogation hints, raw-YAML lookups, citations."""

from __future__ import annotations

from typing import Any

from dagsync.rules.base import Citation, ClientContext

__all__ = ["Citation", "ask_for_request", "citations", "declared", "minutes", "site"]


def ask_for_request(ctx: ClientContext, section: str) -> str:
    """The end of a derogation finding: exactly which field to add, and where to record it."""
    return (
        f"add `request: REQ-...` to `{section}` citing the client's request recorded in "
        f"{ctx.requests_file}"
    )


def declared(data: Any, path: tuple[str | int, ...]) -> bool:
    """Whether `path` is written in the raw YAML (as opposed to a model default)."""
    node = data
    for part in path:
        in_map = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_map or in_list):
            return False
        node = node[part]
    return True


def minutes(hhmm: str) -> int:
    """Minutes since midnight of an `HH:MM` time."""
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


def site(datacenter: str) -> str:
    """The OVH site of a datacenter code: `gra3` and `gra2` are both Gravelines (`gra`)."""
    return datacenter[:3]


def citations(ctx: ClientContext) -> tuple[Citation, ...]:
    """Every `request:` field of client.yaml and of the server files, in file order."""
    return ctx.citations
