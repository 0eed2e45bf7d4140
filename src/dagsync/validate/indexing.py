"""The identifiers the repository invariants need (server names, OVH service names, IPs,
client ids, and the names a client claims: mail domains, forward sources, vhost names,
database names), read without the model: from data that may fail validation, or, for clients a
--changed-since run does not validate, by the quick scan of `quickindex` with the YAML parser
as fallback. Light on purpose: no pydantic."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from dagsync.config.document import ClientFiles, ClientIndex, Located, read_regular
from dagsync.validate.quickindex import client_id, server_ids

MAX_INDEX_BYTES = 1024 * 1024  # larger files are reported when their client is validated


def index_server(rel: str, data: dict[Any, Any], index: ClientIndex) -> None:
    """The server's unique identifiers, read from its data even if the model rejects it."""
    if isinstance(data.get("name"), str):
        index.servers.append(Located(data["name"], rel, ("name",)))
    ovh = data.get("ovh")
    if isinstance(ovh, dict) and isinstance(ovh.get("service_name"), str):
        index.service_names.append(Located(ovh["service_name"], rel, ("ovh", "service_name")))
    ips = data.get("ips")
    for i, ip in enumerate(ips if isinstance(ips, list) else []):
        if isinstance(ip, str):
            index.ips.append(Located(canonical_ip(ip), rel, ("ips", i)))
    index_server_claims(rel, data, index)


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def canonical_name(text: str) -> str:
    """DNS names compare without case and without a trailing dot."""
    return text.strip().lower().rstrip(".")


def index_server_claims(rel: str, data: dict[Any, Any], index: ClientIndex) -> None:
    """The vhost names (domains and aliases) and database names a server file declares."""
    for i, vhost in _items(data.get("vhosts")):
        if not isinstance(vhost, dict):
            continue
        if isinstance(vhost.get("domain"), str):
            index.vhost_names.append(
                Located(canonical_name(vhost["domain"]), rel, ("vhosts", i, "domain"))
            )
        for j, alias in _items(vhost.get("aliases")):
            if isinstance(alias, str):
                index.vhost_names.append(
                    Located(canonical_name(alias), rel, ("vhosts", i, "aliases", j))
                )
    for i, database in _items(data.get("databases")):
        if isinstance(database, dict) and isinstance(database.get("name"), str):
            index.databases.append(Located(database["name"], rel, ("databases", i, "name")))


def index_client_claims(rel: str, data: dict[Any, Any], index: ClientIndex) -> None:
    """The mail domains and forward sources a client.yaml declares."""
    mail = data.get("mail")
    if not isinstance(mail, dict):
        return
    for i, domain in _items(mail.get("domains")):
        if isinstance(domain, str):
            index.mail_domains.append(Located(canonical_name(domain), rel, ("mail", "domains", i)))
    for i, forward in _items(mail.get("external_forwards")):
        if isinstance(forward, dict) and isinstance(forward.get("source"), str):
            local, at, domain = forward["source"].strip().rpartition("@")
            source = f"{local}@{canonical_name(domain)}" if at else forward["source"]
            index.forward_sources.append(
                Located(source, rel, ("mail", "external_forwards", i, "source"))
            )


def index_client_blocklist(rel: str, data: dict[Any, Any], index: ClientIndex) -> None:
    """The blocked networks of a client.yaml, read leniently (the schema reports bad entries)."""
    network = data.get("network")
    items = network.get("blocklist") if isinstance(network, dict) else None
    for i, item in _items(items):
        address = item.get("address") if isinstance(item, dict) else None
        try:
            net = ipaddress.ip_network(str(address))
        except ValueError:
            continue
        index.blocked.append(Located(str(net), rel, ("network", "blocklist", i, "address")))


# Anything that may be an address or a network in a client.yaml (a superset of its blocklist).
_NET_WORD = re.compile(
    r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,2})?"  # IPv4
    r"|(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:/[0-9]{1,3})?"  # IPv6
)


def blocklist_hints(rel: str, text: str) -> list[Located] | None:
    """The networks written anywhere in a client.yaml (a superset of its blocklist), with an
    empty path; None when the text may hide one from a plain scan (an escape or a tag)."""
    if "blocklist" not in text:
        return []
    if "\\" in text or "!" in text:
        return None
    out = set()
    for word in _NET_WORD.findall(text):
        try:
            out.add(str(ipaddress.ip_network(word, strict=False)))
        except ValueError:
            continue
    return [Located(net, rel, ()) for net in sorted(out)]


# The top-level sections holding a client's claims, for the quick scan.
_CLIENT_CLAIMS = ("mail",)
_SERVER_CLAIMS = ("vhosts", "databases")
_WORD = re.compile(r"[A-Za-z0-9_.@+-]+")
# What the word scan cannot read as the parser does: escapes, anchors, aliases, tags.
_NOT_PLAIN = ("\\", "&", "*", "!", "\n---", "\n...", "\n{")


def _section(text: str, name: str) -> str | None:
    """The text of a top-level block section (up to the next top-level line), "" when the
    file has none, None when it may be written in a form this scan does not follow."""
    key = f"{name}:"
    start = 0 if text.startswith(key) else text.find(f"\n{key}")
    if start < 0:
        return None if f"{name} :" in text or f"{{{name}:" in text else ""
    end = text.find("\n", start + 1)
    while end >= 0 and end + 1 < len(text) and text[end + 1] in " \t#\n-":
        end = text.find("\n", end + 1)
    return text[start : len(text) if end < 0 else end]


def claim_hints(rel: str, text: str, sections: tuple[str, ...]) -> list[Located] | None:
    """Every word of the file's claim `sections` (lower case, without a trailing dot; an
    address also gives its domain): a superset of the names the parser would read there.
    None when the file is not plain enough for that promise: then parse it."""
    if text.startswith(("---", "...", "{")) or any(mark in text for mark in _NOT_PLAIN):
        return None
    words: set[str] = set()
    for name in sections:
        region = _section(text, name)
        if region is None:
            return None
        for word in _WORD.findall(region):
            word = canonical_name(word)
            words.add(word)
            if "@" in word:
                words.add(word.rpartition("@")[2])
    return [Located(w, rel, ()) for w in sorted(words) if w]


def _claims(
    rel: str, text: str, sections: tuple[str, ...], index: ClientIndex, client: bool
) -> None:
    hints = claim_hints(rel, text, sections)
    if hints is not None:
        index.claim_hints.extend(hints)
        return
    # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
    from dagsync.config.yamlio import load

    data, _ = load(text)
    if isinstance(data, dict):
        (index_client_claims if client else index_server_claims)(rel, data, index)


def _blocklist(rel: str, text: str, index: ClientIndex) -> None:
    hints = blocklist_hints(rel, text)
    if hints is not None:
        index.blocked.extend(hints)
        return
    # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
    from dagsync.config.yamlio import load

    data, _ = load(text)
    if isinstance(data, dict):
        index_client_blocklist(rel, data, index)


def read_blocklist(root: Path, rel: str) -> list[Located]:
    """The exact blocklist of a client.yaml whose index holds hints only."""
    # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
    from dagsync.config.yamlio import load

    index = ClientIndex()
    try:
        data, _ = load(read_regular(root / rel, MAX_INDEX_BYTES).decode("utf-8", "replace"))
    except OSError:
        return []
    if isinstance(data, dict):
        index_client_blocklist(rel, data, index)
    return index.blocked


def read_claims(root: Path, index: ClientIndex, files: set[str]) -> None:
    """Replace the hints of `files` by the claims the parser reads there (see `invariants`)."""
    # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
    from dagsync.config.yamlio import load

    for rel in sorted(files):
        try:
            raw = read_regular(root / rel, MAX_INDEX_BYTES)
            data, _ = load(raw.decode("utf-8", errors="replace"))
        except OSError:
            continue
        if isinstance(data, dict):
            if "/servers/" in rel:
                index_server_claims(rel, data, index)
            else:
                index_client_claims(rel, data, index)
    index.claim_hints = [h for h in index.claim_hints if h.file not in files]


def canonical_ip(text: str) -> str:
    """`2001:DB8::1` and `2001:db8:0::1` are the same address: compare canonical forms."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text


def index_client(root: Path, files: ClientFiles) -> ClientIndex:
    """The repository-wide identifiers of a client that is not being validated (fast, lenient)."""
    index = ClientIndex()
    for rel in (files.client, *files.servers):
        if rel is None:
            continue
        try:
            text = read_regular(root / rel, MAX_INDEX_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        if rel == files.client and (found := client_id(text)) is not None:
            index.client_id = found
            _claims(rel, text, _CLIENT_CLAIMS, index, client=True)
            _blocklist(rel, text, index)
            continue
        if rel != files.client and (ids := server_ids(text)) is not None:
            name, service, ips = ids
            index_server(rel, {"name": name, "ovh": {"service_name": service}, "ips": ips}, index)
            _claims(rel, text, _SERVER_CLAIMS, index, client=False)
            continue
        # lazy: importing it here keeps cython_runtime, dagsync.config, ruamel out of this module's load
        from dagsync.config.yamlio import load

        data, _ = load(text)
        if not isinstance(data, dict):
            continue
        if rel == files.client:
            if isinstance(data.get("id"), str):
                index.client_id = data["id"]
            index_client_claims(rel, data, index)
            index_client_blocklist(rel, data, index)
        elif rel in files.servers:
            index_server(rel, data, index)
    return index
