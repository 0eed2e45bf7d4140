"""The values every resource kind shares: targets, unknown facts, changes and their details."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Transport(StrEnum):
    """How a target is reached: a server over SSH, or (later) an OVH service over its API."""

    SSH = "ssh"
    OVH = "ovh"


@dataclass(frozen=True, order=True)
class Target:
    """One thing changes apply to: a server of a client, or an OVH service."""

    client: str
    name: str
    transport: Transport = Transport.SSH
    production: bool = False

    @property
    def key(self) -> str:
        return f"{self.client}/{self.name}"

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "name": self.name,
            "transport": str(self.transport),
            "production": self.production,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(
            client=str(data["client"]),
            name=str(data["name"]),
            transport=Transport(data.get("transport", "ssh")),
            production=bool(data.get("production", False)),
        )


@dataclass(frozen=True)
class Unknown:
    """A fact that could not be read. It is never taken as "absent" and never causes a removal."""

    reason: str


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    LOCK = "lock"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "lock": "~", "delete": "-"}[self.value]


@dataclass(frozen=True)
class Detail:
    """One line under a change: `+` added, `-` removed, ` ` context or explanation."""

    sign: str
    text: str

    def as_json(self) -> list[str]:
        return [self.sign, self.text]


@dataclass(frozen=True)
class Change:
    """One typed change to one resource of one target.

    `payload` holds everything the executor needs (it never sees the configuration); each
    resource kind reads it back into its own typed value.
    """

    kind: str
    action: Action
    resource: str
    summary: str
    details: tuple[Detail, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def destructive(self) -> bool:
        return self.action is Action.DELETE

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "action": str(self.action),
            "resource": self.resource,
            "summary": self.summary,
            "details": [d.as_json() for d in self.details],
            "payload": dict(self.payload),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            kind=str(data["kind"]),
            action=Action(data["action"]),
            resource=str(data["resource"]),
            summary=str(data["summary"]),
            details=tuple(Detail(str(s), str(t)) for s, t in data.get("details", [])),
            payload=dict(data.get("payload", {})),
        )


@dataclass(frozen=True)
class Note:
    """Something the reviewer should know that is not a change (a warning or a refusal)."""

    kind: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


class DiffRefused(Exception):
    """What a resource's diff raises when the host contradicts its YAML in a way no change may
    fix (e.g. another distribution than declared): that server's plan fails, with this text."""


@dataclass(frozen=True)
class DiffOptions:
    """What the diff may propose."""

    allow_destroy: bool = False


def lines(sign: str, texts: Any) -> tuple[Detail, ...]:
    """Details with one sign, one per text."""
    return tuple(Detail(sign, str(t)) for t in texts)


def set_details(before: Any, after: Any) -> tuple[Detail, ...]:
    """`-` for what goes, `+` for what comes, in a stable order."""
    old, new = set(before), set(after)
    return lines("-", sorted(old - new, key=str)) + lines("+", sorted(new - old, key=str))
