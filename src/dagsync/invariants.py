"""Repository-wide invariants: identifiers unique across all clients, each IP with one client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from .document import ClientIndex, Document, Located
from .findings import Finding, Severity, pointer_from

_KINDS = (
    # index field, rule, what
    ("servers", "REP005", "server name"),
    ("service_names", "REP006", "OVH service name"),
    ("ips", "REP010", "IP address"),
)


def repository_findings(root: Path, indexes: Mapping[str, ClientIndex]) -> list[Finding]:
    """Duplicated client ids, server names, OVH service names and IPs, each reported at every
    declaration after the first (in client folder order)."""
    locator = _Locator(root)
    findings = list(_duplicate_client_ids(indexes, locator))
    for kind, rule, what in _KINDS:
        findings.extend(_duplicates(indexes, kind, rule, what, locator))
    return findings


def _duplicate_client_ids(
    indexes: Mapping[str, ClientIndex], locator: _Locator
) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for folder in sorted(indexes):
        client_id = indexes[folder].client_id
        if client_id is None:
            continue
        if client_id in seen:
            yield locator.finding(
                Located(client_id, f"clients/{folder}/client.yaml", ("id",)),
                "REP011",
                folder,
                f"client id `{client_id}` is already used by clients/{seen[client_id]}/: "
                "client ids are unique",
            )
        else:
            seen[client_id] = folder


def _duplicates(
    indexes: Mapping[str, ClientIndex], kind: str, rule: str, what: str, locator: _Locator
) -> Iterator[Finding]:
    first: dict[str, tuple[str, str]] = {}
    for folder in sorted(indexes):
        items: list[Located] = getattr(indexes[folder], kind)
        for item in items:
            if item.value not in first:
                first[item.value] = (folder, item.file)
                continue
            other_client, other_file = first[item.value]
            if other_client != folder:
                owner = f"{other_file}, a server of another client"
            elif other_file != item.file:
                owner = f"{other_file}, another server of this client"
            else:
                owner = "earlier in this file"
            yield locator.finding(
                item,
                rule,
                folder,
                f"{what} `{item.value}` is already declared in {owner}: "
                f"each {what} belongs to one server of one client",
            )


class _Locator:
    """Positions of values in files read on demand (only files with a duplicate are read)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[str, Document | None] = {}

    def finding(self, item: Located, rule: str, client: str, message: str) -> Finding:
        line, column = self._locate(item)
        server = Path(item.file).stem if "/servers/" in item.file else None
        return Finding(
            item.file,
            line,
            column,
            rule,
            Severity.ERROR,
            message,
            pointer=pointer_from(list(item.path)),
            client=client,
            server=server,
        )

    def _locate(self, item: Located) -> tuple[int, int]:
        if item.file not in self.docs:
            try:
                text = (self.root / item.file).read_text(encoding="utf-8")
                self.docs[item.file] = Document(item.file, text)
            except (OSError, UnicodeDecodeError):
                self.docs[item.file] = None
        doc = self.docs[item.file]
        return doc.locate([str(p) for p in item.path]) if doc else (1, 1)
