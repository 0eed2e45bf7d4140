"""The identifiers the repository invariants need (server names, OVH service names, IPs,
client ids, and the names a client claims: mail domains, forward sources, vhost names,
database names), read without the model: from data that may fail validation, or, for clients a
--changed-since run does not validate, by the quick scan of `quickindex` with the YAML parser
as fallback. Light on purpose: no pydantic."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from .document import ClientFiles, ClientIndex, Located
from .quickindex import client_id, server_ids


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


# Keys whose presence makes the quick scan parse the file for the names a client claims.
_CLIENT_CLAIMS = ("domains", "external_forwards")
_SERVER_CLAIMS = ("vhosts", "databases")


def _claims(rel: str, text: str, keys: tuple[str, ...], index: ClientIndex, client: bool) -> None:
    if not any(key in text for key in keys):
        return
    from .yamlio import load

    data, _ = load(text)
    if isinstance(data, dict):
        (index_client_claims if client else index_server_claims)(rel, data, index)


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
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if rel == files.client and (found := client_id(text)) is not None:
            index.client_id = found
            _claims(rel, text, _CLIENT_CLAIMS, index, client=True)
            continue
        if rel != files.client and (ids := server_ids(text)) is not None:
            name, service, ips = ids
            index_server(rel, {"name": name, "ovh": {"service_name": service}, "ips": ips}, index)
            _claims(rel, text, _SERVER_CLAIMS, index, client=False)
            continue
        from .yamlio import load

        data, _ = load(text)
        if not isinstance(data, dict):
            continue
        if rel == files.client:
            if isinstance(data.get("id"), str):
                index.client_id = data["id"]
            index_client_claims(rel, data, index)
        elif rel in files.servers:
            index_server(rel, data, index)
    return index
