"""What a rule is, and what it sees: the context of one client, fully typed.

A rule is a function decorated with `@rule(...)` that yields `Violation`s. Its docstring is
its documentation, in fixed sections (see `dagsync.validate.ruledocs`); its numbers come from the
CGV policy of the client's contract (`ctx.policy`), never from code constants.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dagsync.config.document import Document
from dagsync.findings import Severity
from dagsync.model.client import Client
from dagsync.model.partial import SectionUnavailable, is_unavailable
from dagsync.model.policy import CgvPolicy, DagSettings
from dagsync.model.requests import Request
from dagsync.model.server import Server

ERROR = Severity.ERROR
WARNING = Severity.WARNING


@dataclass(frozen=True)
class ServerEntry:
    name: str
    model: Server
    doc: Document


@dataclass(frozen=True)
class Citation:
    """A `request: REQ-...` field somewhere in the client's YAML."""

    doc: Document
    path: tuple[str | int, ...]
    request_id: str
    server: str | None


@dataclass(frozen=True)
class ClientContext:
    """Everything one client declares, validated, with the policy its contract names.

    `cited` may hold request ids cited outside the YAML (e.g. by `Client-Request:` commit
    trailers); the repository rules count them as citations. `unreadable_servers` names the
    server files that exist but failed YAML or schema checks (already reported): rules that
    look across servers stay silent rather than blame their absence.
    """

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
    unreadable_servers: frozenset[str] = frozenset()

    @cached_property
    def citations(self) -> tuple[Citation, ...]:
        """Every `request:` field of client.yaml and of the server files, in file order (raises
        `SectionUnavailable` when client.yaml could not be read: its citations are unknown)."""
        if is_unavailable(self.client_doc.data):
            raise SectionUnavailable(self.client_doc.data.where)
        found = list(_citations(self.client_doc, self.client_doc.data, (), None))
        for entry in self.servers:
            found.extend(_citations(entry.doc, entry.doc.data, (), entry.name))
        return tuple(found)

    @property
    def requests_file(self) -> str:
        if self.requests_doc is not None:
            return self.requests_doc.rel
        return f"clients/{self.client_id}/requests.yaml"


def _citations(
    doc: Document, node: Any, path: tuple[str | int, ...], server: str | None
) -> Iterator[Citation]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "request" and isinstance(value, str):
                yield Citation(doc, (*path, key), value, server)
            elif isinstance(value, dict | list):
                yield from _citations(doc, value, (*path, str(key)), server)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict | list):
                yield from _citations(doc, item, (*path, index), server)


@dataclass
class PinnedDocument(Document):
    """A document whose every location is one fixed (line, column): for findings found in the
    raw text (e.g. a secret in a comment) that no key path reaches."""

    at: tuple[int, int] = (1, 1)

    def locate(self, parts: list[str], *, key: bool = False) -> tuple[int, int]:
        return self.at


@dataclass(frozen=True)
class Violation:
    """A rule's verdict on one place: `path` is the key/index path inside `doc`."""

    doc: Document
    path: tuple[str | int, ...]
    message: str
    key: bool = False
    server: str | None = None

    @classmethod
    def at_position(
        cls, doc: Document, line: int, column: int, message: str, server: str | None = None
    ) -> Violation:
        """A verdict on a raw text position (1-based) of `doc` rather than on a key path."""
        pinned = PinnedDocument(doc.rel, doc.text, doc.data, at=(line, column))
        return cls(pinned, (), message, server=server)


Check = Callable[[ClientContext], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    """One entry of the catalogue.

    `terms` names the fields of `CgvPolicy` whose numbers (and French quotes) back the rule;
    `clause` is the French text for a rule no policy term carries.
    """

    id: str
    severity: Severity
    article: str
    title: str
    check: Check
    doc: str
    terms: tuple[str, ...] = ()
    clause: str | None = None

    @property
    def area(self) -> str:
        return self.id.rstrip("0123456789")


def rule(
    *,
    id: str,
    severity: Severity,
    article: str,
    terms: tuple[str, ...] = (),
    clause: str | None = None,
) -> Callable[[Check], Rule]:
    """Turn a check function into a `Rule`; its docstring becomes the rule's documentation."""

    def make(check: Check) -> Rule:
        doc = inspect.cleandoc(check.__doc__ or "")
        title = doc.splitlines()[0].strip().rstrip(".") if doc else id
        return Rule(id, severity, article, title, check, doc, terms, clause)

    return make
