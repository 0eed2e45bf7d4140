"""The desired OVH state of each declared server, from the model alone (no I/O).

Per server: it exists in DAG's OVH account in the declared datacenter and range; OVH
monitoring as declared (``supervision.ovh_monitoring``, on by default: CGV Art. 4
supervision); the edge firewall of each IPv4 address as laid out by :mod:`.layout`; the
backup-storage access list (see :func:`backup_access`); the declared reverse DNS names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Network, IPv6Network
from typing import Final

from dagsync.model.edge import (
    EDGE_RULE_LIMIT,
    EdgePermit,
    edge_count,
    edge_permits,
    ipv4_addresses,
)
from dagsync.model.monitoring import Monitoring
from dagsync.model.server import Role, Server, ServerType
from dagsync.ovhapi.shapes import MAX_EDGE_RULES, BackupProtocols, EdgeRule, PortRange
from dagsync.reconcile.core import Target, Transport

__all__ = [
    "ACCOUNT_TARGET",
    "FINAL_DENY",
    "LAST_SEQUENCE",
    "OVH_SUFFIX",
    "EdgeDesired",
    "ServerDesired",
    "backup_access",
    "content",
    "edge_rule",
    "ovh_target",
    "server_desired",
]

OVH_SUFFIX: Final = "@ovh"
ACCOUNT_TARGET: Final = Target("dag", "ovh-account", transport=Transport.OVH)
LAST_SEQUENCE: Final = MAX_EDGE_RULES - 1
FINAL_DENY: Final = EdgeRule(LAST_SEQUENCE, "deny", "ipv4")


def ovh_target(client: str, server: Server) -> Target:
    """The OVH target of a server: ``<client>/<server>@ovh`` (its SSH target is
    ``<client>/<server>``; distinct keys keep the two apart when plans are merged)."""
    production = server.role is Role.PRODUCTION
    return Target(client, f"{server.name}{OVH_SUFFIX}", Transport.OVH, production)


@dataclass(frozen=True)
class EdgeDesired:
    """The edge firewall of one address: permits at their preferred sequences, the deny."""

    address: str
    permits: tuple[EdgeRule, ...]
    origins: tuple[str, ...]  # why each permit is there (management, https, icmp...)
    ssh_port: int
    deny: EdgeRule = FINAL_DENY

    @property
    def rules(self) -> tuple[EdgeRule, ...]:
        return (*self.permits, self.deny)

    def origin(self, rule: EdgeRule) -> str:
        for permit, origin in zip(self.permits, self.origins, strict=True):
            if content(permit) == content(rule):
                return origin
        return ""


@dataclass(frozen=True)
class ServerDesired:
    """What one declared server should look like in the OVH account."""

    target: Target  # <client>/<server>@ovh
    ssh_target: Target  # <client>/<server>, the server itself (for the access check)
    service_name: str
    datacenter: str
    commercial_range: str
    addresses: tuple[str, ...]  # every declared address, IPv4 and IPv6
    monitoring: bool
    edges: tuple[EdgeDesired, ...]
    backup_storage: str  # the declared storage (one of DAG's hosts)
    backup_access: tuple[tuple[str, BackupProtocols], ...]
    reverses: tuple[tuple[str, str], ...]  # (address, name)
    unmanaged: str | None = None  # why this server's OVH resources are not reconciled
    error: str | None = None  # why its desired state cannot be built


def content(rule: EdgeRule) -> EdgeRule:
    """What a rule does, whatever its sequence: rules compare by content."""
    return replace(rule, sequence=0)


def edge_rule(permit: EdgePermit, sequence: int) -> EdgeRule:
    ports = PortRange(*permit.ports) if permit.ports else None
    option = "established" if permit.established else None
    source = None if permit.source is None else str(permit.source)
    return EdgeRule(sequence, "permit", permit.protocol, source, ports, tcp_option=option)


def _edge(
    address: str,
    server: Server,
    ranges: Sequence[IPv4Network | IPv6Network],
    monitoring: Monitoring | None,
) -> EdgeDesired:
    permits = edge_permits(server, ranges, monitoring)
    return EdgeDesired(
        address,
        tuple(edge_rule(p, n) for n, p in enumerate(permits)),
        tuple(p.origin for p in permits),
        server.ssh.port,
    )


def backup_access(server: Server) -> tuple[tuple[str, BackupProtocols], ...]:
    """The OVH backup-storage (backupFTP) access list of a server: empty, by decision.

    DAG's backups are borg archives sent over SSH to DAG's own storage hosts
    (``backup_storages`` of policies/dag.yaml; CGV Art. 4: "Stockage sur un serveur
    externalisé [...] la géolocalisation des sauvegardes se trouve à Strasbourg"), and a
    server's ``backup.storage`` always names one of them (rule BKP006). OVH's backupFTP only
    speaks FTP, NFS and CIFS, which borg does not use, and its location is not documented.
    So the backup uses no protocol of the OVH storage, and the access list that "allows
    exactly the server's IP block with the protocols the backup uses" is empty: any access
    found there is undeclared and removed, so that the storage included with the server is
    not an undeclared way out of it. dagsync never activates backupFTP, and never deletes it
    (that would delete its data).
    """
    return ()


def server_desired(
    client: str,
    server: Server,
    management_ranges: Sequence[IPv4Network | IPv6Network],
    monitoring: Monitoring | None = None,
) -> ServerDesired:
    """`monitoring`: DAG's monitoring hosts, to which the edge opens the server's exporters."""
    addresses = ipv4_addresses(server)
    count = edge_count(server, management_ranges, monitoring)
    error = None
    if addresses and count.total > EDGE_RULE_LIMIT:
        error = (
            f"the edge firewall holds at most {EDGE_RULE_LIMIT} rules per address and this "
            f"server needs {count.total} ({count.describe()}): see rule EDG001"
        )
    unmanaged = None
    if server.ovh.type is not ServerType.BARE_METAL:
        unmanaged = (
            f"a {server.ovh.type.value} server: only dedicated (bare-metal) servers are "
            "reconciled through the OVH API"
        )
    return ServerDesired(
        target=ovh_target(client, server),
        ssh_target=Target(client, server.name, production=server.role is Role.PRODUCTION),
        service_name=server.ovh.service_name,
        datacenter=server.ovh.datacenter,
        commercial_range=server.ovh.commercial_range,
        addresses=tuple(str(ip) for ip in server.ips),
        monitoring=server.supervision.ovh_monitoring,
        edges=()
        if error
        else tuple(_edge(str(a), server, management_ranges, monitoring) for a in addresses),
        backup_storage=server.backup.storage,
        backup_access=backup_access(server),
        reverses=tuple((str(r.ip), r.name) for r in server.reverse_dns),
        unmanaged=unmanaged,
        error=error,
    )
