"""Repository-wide invariants: identifiers unique across all clients, each IP with one client,
and tenancy: a mail domain, a forward source, a vhost name or a database name belongs to
exactly one client (REP012-REP014), so no client's YAML reaches another client's data."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton

from dagsync.config.document import ClientIndex, Document, Located
from dagsync.findings import Finding, Severity, pointer_from
from dagsync.validate.indexing import read_blocklist, read_claims

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
    locator = _Locator(root)
    findings = list(_duplicate_client_ids(indexes, locator))
    for kind, rule, what in _KINDS:
        findings.extend(_duplicates(indexes, kind, rule, what, locator))
    findings.extend(_tenancy(indexes, locator))
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


# --- tenancy -------------------------------------------------------------------------------


def _what(item: Located) -> str:
    if item.path[:2] == ("mail", "domains"):
        return "mail domain"
    if item.path[-1] == "domain":
        return "vhost domain"
    return "vhost alias"


def _owners(indexes: Mapping[str, ClientIndex]) -> dict[str, tuple[str, Located]]:
    """Each name's owner: the first claim, mail domains before vhost domains before aliases,
    then in client folder order."""
    claims = [
        (rank, folder, item)
        for folder in sorted(indexes)
        for item in (*indexes[folder].mail_domains, *indexes[folder].vhost_names)
        for rank in [("mail domain", "vhost domain", "vhost alias").index(_what(item))]
    ]
    owners: dict[str, tuple[str, Located]] = {}
    for _, folder, item in sorted(claims, key=lambda c: (c[0], c[1])):
        owners.setdefault(item.value, (folder, item))
    return owners


def _mail_owner(
    name: str, owners: Mapping[str, tuple[str, Located]], start: int = 0
) -> tuple[str, Located] | None:
    """The client whose mail domain is `name` or a parent of it (from the label `start` on:
    1 looks at the parents only)."""
    labels = name.split(".")
    for first in range(start, len(labels) - 1):
        owner = owners.get(".".join(labels[first:]))
        if owner is not None and _what(owner[1]) == "mail domain":
            return owner
    return None


def _names(index: ClientIndex) -> set[str]:
    """The names a client claims, with the domains of its forward sources."""
    names = {i.value for i in (*index.mail_domains, *index.vhost_names, *index.databases)}
    return names | {i.value.rpartition("@")[2] for i in index.forward_sources}


def _parents(name: str) -> list[str]:
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def _settled(indexes: Mapping[str, ClientIndex], locator: _Locator) -> dict[str, ClientIndex]:
    """The indexes with exact claims wherever it matters: a client indexed by the quick scan
    has only hints (a superset of its names); the files whose hints meet a name another
    client claims (equal, parent or child) are parsed.  Two clients that both have only
    hints are not compared: a full `dagsync validate` does that."""
    claimed: dict[str, set[str]] = {}
    for folder, index in indexes.items():
        for name in _names(index):
            claimed.setdefault(name, set()).add(folder)
    with_parents = {name: set(folders) for name, folders in claimed.items()}
    for name, folders in claimed.items():
        for parent in _parents(name):
            with_parents.setdefault(parent, set()).update(folders)
    out = dict(indexes)
    for folder, index in indexes.items():
        files = {
            hint.file
            for hint in index.claim_hints
            if with_parents.get(hint.value, {folder}) != {folder}
            or any(claimed.get(p, {folder}) != {folder} for p in _parents(hint.value))
        }
        if files:
            exact = replace(
                index,
                mail_domains=list(index.mail_domains),
                vhost_names=list(index.vhost_names),
                forward_sources=list(index.forward_sources),
                databases=list(index.databases),
            )
            read_claims(locator.root, exact, files)
            out[folder] = exact
    return out


def _tenancy(indexes: Mapping[str, ClientIndex], locator: _Locator) -> Iterator[Finding]:
    indexes = _settled(indexes, locator)
    owners = _owners(indexes)
    for folder in sorted(indexes):
        index = indexes[folder]
        for item in (*index.mail_domains, *index.vhost_names):
            owner = owners.get(item.value)
            if owner is not None and owner[0] == folder:
                owner = _mail_owner(item.value, owners, 1)  # under another client's domain?
            if owner is None or owner[0] == folder:
                continue
            yield locator.finding(
                item,
                "REP012",
                folder,
                f"{_what(item)} `{item.value}` belongs to client {owner[0]}: it is its "
                f"{_what(owner[1])} at {locator.where(owner[1])}; a domain belongs to one client",
                related=[owner[1]],
            )
        yield from _forwards(folder, index, owners, locator)
    yield from _databases(indexes, locator)


def _forwards(
    folder: str,
    index: ClientIndex,
    owners: Mapping[str, tuple[str, Located]],
    locator: _Locator,
) -> Iterator[Finding]:
    for item in index.forward_sources:
        domain = item.value.rpartition("@")[2]
        owner = _mail_owner(domain, owners) if "@" in item.value else None
        if owner is not None and owner[0] == folder:
            continue
        if owner is None:
            why = f"`{domain}` is not a mail domain of client {folder} (mail.domains)"
        else:
            why = (
                f"`{domain}` belongs to client {owner[0]} (its mail domain at "
                f"{locator.where(owner[1])})"
            )
        yield locator.finding(
            item,
            "REP013",
            folder,
            f"forward source `{item.value}` is not this client's address: {why}; a client "
            "forwards only the mail of its own domains",
            related=[owner[1]] if owner is not None else [],
        )


def _databases(indexes: Mapping[str, ClientIndex], locator: _Locator) -> Iterator[Finding]:
    first: dict[str, tuple[str, Located]] = {}
    claims = _groups(indexes, "databases")
    for folder in sorted(indexes):
        for item in indexes[folder].databases:
            owner = first.setdefault(item.value, (folder, item))
            if owner[0] != folder:
                yield locator.finding(
                    item,
                    "REP014",
                    folder,
                    f"database name `{item.value}` belongs to client {owner[0]} (declared at "
                    f"{locator.where(owner[1])}): a database name belongs to one client",
                    related=[o for f, o in claims[item.value] if f != folder],
                )


def _number(text: str) -> tuple[int, int] | None:
    """(IP version, integer) of an address in canonical text, or None: `inet_pton` is ten
    times faster than `ipaddress` and the invariants read every server address."""
    for family, version in ((AF_INET, 4), (AF_INET6, 6)):
        try:
            return version, int.from_bytes(inet_pton(family, text), "big")
        except OSError:
            continue
    return None


def _span(text: str) -> tuple[int, int, int] | None:
    """(IP version, first, last) of a network in canonical text (`str(ip_network(...))`)."""
    address, _, prefix = text.partition("/")
    found = _number(address)
    if found is None:
        return None
    version, first = found
    bits = 32 if version == 4 else 128
    width = bits - int(prefix or bits)
    return version, first, first | ((1 << width) - 1)


class _Addresses:
    """Every server address of the repository, sorted per IP version, for range look-ups."""

    def __init__(self, indexes: Mapping[str, ClientIndex]) -> None:
        found = sorted(
            (*number, folder, item)
            for folder in sorted(indexes)
            for item in indexes[folder].ips
            for number in [_number(item.value)]
            if number is not None
        )
        self.keys = [(version, number) for version, number, _, _ in found]
        self.owners = [(folder, item) for _, _, folder, item in found]

    def other(self, network: str, folder: str) -> tuple[str, Located] | None:
        """The first address in `network` (canonical text) of a client other than `folder`."""
        span = _span(network)
        if span is None:
            return None
        version, first, last = span
        low = bisect_left(self.keys, (version, first))
        high = bisect_right(self.keys, (version, last))
        return next((o for o in self.owners[low:high] if o[0] != folder), None)


def _blocked_servers(indexes: Mapping[str, ClientIndex], locator: _Locator) -> Iterator[Finding]:
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


def _groups(indexes: Mapping[str, ClientIndex], kind: str) -> dict[str, list[tuple[str, Located]]]:
    """Every declaration of each value of one index field: (client folder, place)."""
    groups: dict[str, list[tuple[str, Located]]] = {}
    for folder in sorted(indexes):
        for item in getattr(indexes[folder], kind):
            groups.setdefault(item.value, []).append((folder, item))
    return groups


def _duplicate_client_ids(
    indexes: Mapping[str, ClientIndex], locator: _Locator
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
    indexes: Mapping[str, ClientIndex], kind: str, rule: str, what: str, locator: _Locator
) -> Iterator[Finding]:
    first: dict[str, tuple[str, str]] = {}
    groups = _groups(indexes, kind)
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


class _Locator:
    """Positions of values in files read on demand (only files with a duplicate are read)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[str, Document | None] = {}

    def finding(
        self,
        item: Located,
        rule: str,
        client: str,
        message: str,
        related: Collection[Located] = (),
    ) -> Finding:
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
            related=tuple((o.file, *self._locate(o)) for o in related),
        )

    def where(self, item: Located) -> str:
        """`file:line:column` of a declaration, for a finding that names two places."""
        line, column = self._locate(item)
        return f"{item.file}:{line}:{column}"

    def _locate(self, item: Located) -> tuple[int, int]:
        if item.file not in self.docs:
            try:
                text = (self.root / item.file).read_text(encoding="utf-8")
                self.docs[item.file] = Document(item.file, text)
            except (OSError, UnicodeDecodeError):
                self.docs[item.file] = None
        doc = self.docs[item.file]
        return doc.locate([str(p) for p in item.path]) if doc else (1, 1)
