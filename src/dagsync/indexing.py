"""The identifiers the repository invariants need (server names, OVH service names, IPs,
client ids), read without the model: from data that may fail validation, or, for clients a
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
            continue
        if rel != files.client and (ids := server_ids(text)) is not None:
            name, service, ips = ids
            index_server(rel, {"name": name, "ovh": {"service_name": service}, "ips": ips}, index)
            continue
        from .yamlio import load

        data, _ = load(text)
        if not isinstance(data, dict):
            continue
        if rel == files.client and isinstance(data.get("id"), str):
            index.client_id = data["id"]
        elif rel in files.servers:
            index_server(rel, data, index)
    return index
