"""Repository-wide invariants: identifiers unique across all clients, each IP with one client,
no blocklist entry covering another client's server (REP015), and tenancy (REP012-REP014, in
`validate.tenancy`); `repository_findings` gathers them all."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from dagsync.config.document import ClientIndex, Located
from dagsync.findings import Finding
from dagsync.validate.addresses import address_number, network_span
from dagsync.validate.indexing import read_blocklist
from dagsync.validate.places import Locator, declarations_by_value
from dagsync.validate.tenancy import tenancy_findings

_KINDS = (
    # index field, rule, what
    ("servers", "REP005", "server name"),
    ("service_names", "REP006", "OVH service name"),
    ("ips", "REP010", "IP address"),
)


def repository_findings(
    root: Path, indexes: Mapping[str, ClientIndex], changed: Collection[str] | None = None
) -> list[Finding]:
    """Duplicated client ids, server names, OVH service names and IPs, each reported at every
    declaration after the first (in client folder order), and the tenancy conflicts. Each
    finding carries the other places of its problem (`related`).

    `changed` (repository-relative paths, e.g. of `--changed-since`) moves a finding onto a
    changed file when one of its places is in one and its own place is not: the annotation
    then lands in the pull request's diff."""
    locator = Locator(root)
    findings = list(_duplicate_client_ids(indexes, locator))
    for kind, rule, what in _KINDS:
        findings.extend(_duplicates(indexes, kind, rule, what, locator))
    findings.extend(tenancy_findings(indexes, locator))
    findings.extend(_blocked_servers(indexes, locator))
    if changed:
        findings = [_anchored(f, frozenset(changed)) for f in findings]
    return findings


def _anchored(finding: Finding, changed: frozenset[str]) -> Finding:
    """`finding` at its first related place in a changed file, if its own file is unchanged."""
    if finding.file in changed:
        return finding
    moved = next((r for r in finding.related if r[0] in changed), None)
    if moved is None:
        return finding
    file, line, column = moved
    here = (finding.file, finding.line, finding.column)
    parts = file.split("/")
    return replace(
        finding,
        file=file,
        line=line,
        column=column,
        pointer="",
        client=parts[1] if len(parts) > 2 and parts[0] == "clients" else finding.client,
        server=Path(file).stem if "/servers/" in file else None,
        message=f"{finding.message} (reported at this changed declaration; the other is at "
        f"{here[0]}:{here[1]}:{here[2]})",
        related=(here, *(r for r in finding.related if r != moved)),
    )


class _Addresses:
    """Every server address of the repository, sorted per IP version, for range look-ups."""

    def __init__(self, indexes: Mapping[str, ClientIndex]) -> None:
        found = sorted(
            (*number, folder, item)
            for folder in sorted(indexes)
            for item in indexes[folder].ips
            for number in [address_number(item.value)]
            if number is not None
        )
        self.keys = [(version, number) for version, number, _, _ in found]
        self.owners = [(folder, item) for _, _, folder, item in found]

    def other(self, network: str, folder: str) -> tuple[str, Located] | None:
        """The first address in `network` (canonical text) of a client other than `folder`."""
        span = network_span(network)
        if span is None:
            return None
        version, first, last = span
        low = bisect_left(self.keys, (version, first))
        high = bisect_right(self.keys, (version, last))
        return next((o for o in self.owners[low:high] if o[0] != folder), None)


def _blocked_servers(indexes: Mapping[str, ClientIndex], locator: Locator) -> Iterator[Finding]:
    """REP015: a blocklist entry covering a server address of another client (the blocklist
    lands on the client's servers and, shared network-wide, on every client's).  A client
    indexed by the quick scan has hints (every network its client.yaml mentions); its file is
    parsed only when one of them covers another client's server."""
    if not any(index.blocked for index in indexes.values()):
        return
    addresses = _Addresses(indexes)
    for folder in sorted(indexes):
        entries = indexes[folder].blocked
        if not any(addresses.other(e.value, folder) for e in entries):
            continue
        hinted = {e.file for e in entries if not e.path}
        exact = [e for e in entries if e.path]
        exact.extend(x for rel in sorted(hinted) for x in read_blocklist(locator.root, rel))
        for place in exact:
            hit = addresses.other(place.value, folder)
            if hit is None:
                continue
            owner, item = hit
            yield locator.finding(
                place,
                "REP015",
                folder,
                f"blocking {place.value} would cut off {item.value}, an address of client "
                f"{owner}'s server {Path(item.file).stem} ({locator.where(item)}): the "
                "blocklist lands on every server of the client and, shared network-wide, of "
                "every client; block the attacking addresses, never another client's server",
                related=[item],
            )


def _duplicate_client_ids(
    indexes: Mapping[str, ClientIndex], locator: Locator
) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    places: dict[str, list[Located]] = {}
    for folder in sorted(indexes):
        client_id = indexes[folder].client_id
        if client_id is not None:
            places.setdefault(client_id, []).append(
                Located(client_id, f"clients/{folder}/client.yaml", ("id",))
            )
    for folder in sorted(indexes):
        client_id = indexes[folder].client_id
        if client_id is None:
            continue
        if client_id in seen:
            here = Located(client_id, f"clients/{folder}/client.yaml", ("id",))
            yield locator.finding(
                here,
                "REP011",
                folder,
                f"client id `{client_id}` is already used by clients/{seen[client_id]}/: "
                "client ids are unique",
                related=[p for p in places[client_id] if p != here],
            )
        else:
            seen[client_id] = folder


def _duplicates(
    indexes: Mapping[str, ClientIndex], kind: str, rule: str, what: str, locator: Locator
) -> Iterator[Finding]:
    first: dict[str, tuple[str, str]] = {}
    groups = declarations_by_value(indexes, kind)
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
                related=[o for _, o in groups[item.value] if o is not item],
            )
