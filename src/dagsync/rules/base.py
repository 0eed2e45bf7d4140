"""What a rule is, and what it sees: the context of one client, fully typed.

A rule is a function decorated with `@rule(...)` that yields `Violation`s. Its docstring is
its documentation, in fixed sections (see `RuleDoc`); its numbers come from the CGV policy of
the client's contract (`ctx.policy`), never from code constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ..document import Document
from ..findings import Severity
from ..model import CgvPolicy, Client, DagSettings, Request, Server


@dataclass(frozen=True)
class ServerEntry:
    name: str
    model: Server
    doc: Document


@dataclass(frozen=True)
class ClientContext:
    """Everything one client declares, validated, with the policy its contract names."""

    client_id: str
    client: Client
    client_doc: Document
    requests: Mapping[str, Request]
    requests_doc: Document | None
    servers: tuple[ServerEntry, ...]
    policy: CgvPolicy
    dag: DagSettings
    today: dt.date
    cited: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Violation:
    """A rule's verdict on one place: `path` is the key/index path inside `doc`."""

    doc: Document
    path: tuple[str | int, ...]
    message: str
    key: bool = False
    server: str | None = None


Check = Callable[[ClientContext], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    article: str
    title: str
    check: Check
    doc: str

    @property
    def area(self) -> str:
        return self.id.rstrip("0123456789")
