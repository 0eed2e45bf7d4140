"""An OVH API emulator account for a repository: what ``dagsync sandbox`` serves.

:func:`account_fixture` gives a fixture for :class:`dagsync.testing.ovh_api.OvhEmulator`
(``OvhEmulator(account_fixture(repo))``) holding every declared dedicated server as OVH would
deliver it: the declared service name, datacenter and range (``<range>-1``, OVH's generation
suffix), its addresses as blocks (``/32``, ``/64``), OVH monitoring on, no edge firewall, no
reverse DNS, the included backup storage activated with an empty access list; the forward
DNS of the declared reverse names (so that OVH's check passes); and one consumer key
(:data:`~dagsync.testing.ovh_api.DEFAULT_CONSUMER_KEY`) with exactly
:data:`dagsync.ovhapi.ACCESS_RULES`. A first ``dagsync apply`` converges it; a second one
changes nothing.
"""

from __future__ import annotations

from ipaddress import IPv4Address, ip_network
from typing import Any

from dagsync.model.server import Server, ServerType
from dagsync.ovhapi.access import ACCESS_RULES
from dagsync.testing.ovh_api.defaults import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    DEFAULT_CONSUMER_KEY,
)
from dagsync.validate.repository import Repository

__all__ = ["account_fixture", "server_fixture"]


def server_fixture(server: Server) -> dict[str, Any]:
    """One dedicated server of the account, as OVH delivers it."""
    v4 = [ip for ip in server.ips if isinstance(ip, IPv4Address)]
    blocks = [
        str(ip_network(f"{ip}/{32 if ip.version == 4 else 64}", strict=False)) for ip in server.ips
    ]
    return {
        "name": server.ovh.service_name,
        "ip": str((v4 or server.ips)[0]),
        "ips": list(dict.fromkeys(blocks)),
        "datacenter": server.ovh.datacenter,
        "commercialRange": f"{server.ovh.commercial_range}-1",
        "monitoring": True,
        "backupFTP": {"activated": True},
    }


def account_fixture(repo: Repository) -> dict[str, Any]:
    """An emulator fixture with every declared dedicated server of ``repo``."""
    servers = [s for _, s in repo.servers() if s.ovh.type is ServerType.BARE_METAL]
    dns: dict[str, list[str]] = {}
    for server in servers:
        for reverse in server.reverse_dns:
            dns.setdefault(reverse.name.rstrip(".").lower(), []).append(str(reverse.ip))
    return {
        "applications": [
            {
                "applicationKey": DEFAULT_APPLICATION_KEY,
                "applicationSecret": DEFAULT_APPLICATION_SECRET,
                "name": "dagsync-sandbox",
            }
        ],
        "credentials": [
            {
                "consumerKey": DEFAULT_CONSUMER_KEY,
                "applicationKey": DEFAULT_APPLICATION_KEY,
                "rules": [rule.as_json() for rule in ACCESS_RULES],
            }
        ],
        "dns": dns,
        "servers": [server_fixture(s) for s in servers],
    }
