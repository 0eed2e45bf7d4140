"""Tenancy across clients (REP012-REP014): a mail domain, a forward source, a vhost name or a
database name belongs to exactly one client, so no client's YAML reaches another client's data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from dagsync.config.document import ClientIndex, Located
from dagsync.findings import Finding
from dagsync.validate.indexing import read_claims
from dagsync.validate.places import Locator, declarations_by_value


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


def _settled(indexes: Mapping[str, ClientIndex], locator: Locator) -> dict[str, ClientIndex]:
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


def tenancy_findings(indexes: Mapping[str, ClientIndex], locator: Locator) -> Iterator[Finding]:
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
    locator: Locator,
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


def _databases(indexes: Mapping[str, ClientIndex], locator: Locator) -> Iterator[Finding]:
    first: dict[str, tuple[str, Located]] = {}
    claims = declarations_by_value(indexes, "databases")
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
