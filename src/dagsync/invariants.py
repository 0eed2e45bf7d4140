"""Repository-wide invariants: identifiers unique across all clients, each IP with one client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .document import Document
from .findings import Finding, Severity, pointer_from

_KINDS = (
    # index field, rule, what
    ("servers", "REP005", "server name"),
    ("service_names", "REP006", "OVH service name"),
    ("ips", "REP010", "IP address"),
)


def repository_findings(
    root: Path, layout: Any, payloads: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    findings = list(_duplicate_client_ids(root, payloads))
    for field, rule, what in _KINDS:
        findings.extend(_duplicates(root, payloads, field, rule, what))
    return findings


def _duplicate_client_ids(root: Path, payloads: Mapping[str, Mapping[str, Any]]) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    for folder in sorted(payloads):
        client_id = payloads[folder]["index"].get("client_id")
        if client_id is None:
            continue
        if client_id in seen:
            rel = f"clients/{folder}/client.yaml"
            yield _at(root, rel, ("id",), "REP011", folder, None,
                      f"client id `{client_id}` is already used by clients/{seen[client_id]}/: "
                      "client ids are unique")
        else:
            seen[client_id] = folder


def _duplicates(
    root: Path, payloads: Mapping[str, Mapping[str, Any]], field: str, rule: str, what: str
) -> Iterator[Finding]:
    first: dict[str, tuple[str, str]] = {}
    for folder in sorted(payloads):
        for item in payloads[folder]["index"][field]:
            value, rel, path = item["value"], item["file"], tuple(item["path"])
            if value not in first:
                first[value] = (folder, rel)
                continue
            other_client, other_rel = first[value]
            owner = "another client" if other_client != folder else "another server"
            yield _at(root, rel, path, rule, folder, Path(rel).stem,
                      f"{what} `{value}` is already declared in {other_rel} ({owner}): "
                      f"each {what} belongs to one server of one client")


def _at(root: Path, rel: str, path: tuple[Any, ...], rule: str, client: str,
        server: str | None, message: str) -> Finding:
    try:
        doc = Document(rel, (root / rel).read_text())
        line, column = doc.locate([str(p) for p in path])
    except OSError:
        line, column = 1, 1
    return Finding(rel, line, column, rule, Severity.ERROR, message,
                   pointer=pointer_from(list(path)), client=client, server=server)
