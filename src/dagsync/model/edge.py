"""The edge-firewall layout of a server: which permits, in which order, how many rules.

Shared by the reconciler (:mod:`.desired`) and the validator (rule EDG001), so that both
count exactly the same rules; no ``ovh`` import. Every public IPv4 address of a server gets:

1. ``permit tcp established``: the firewall is stateless, this lets in the replies to the
   server's own connections;
2. one ``permit tcp`` on the SSH port per management range of ``policies/dag.yaml`` (IPv4,
   adjacent ranges collapsed): early, so DAG keeps its access;
3. the exporters' openings to DAG's monitoring hosts (derived: `model.exporters`), then the
   declared open ports: one permit per (protocol, port or range, source); the sources of
   one protocol and port are merged (``any`` wins, adjacent networks collapse); IPv6 sources
   are left out (the edge firewall filters IPv4 only); a permit equal to a management
   permit is not repeated;
4. ``permit icmp`` when ``firewall.icmp`` is true;
5. a final ``deny ipv4`` at the last sequence, 19.

OVH holds at most :data:`EDGE_RULE_LIMIT` rules per address, so a server whose layout is
longer cannot be reconciled; the validator refuses it (EDG001) with the count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Network, collapse_addresses
from typing import Final

from dagsync.model.exporters import monitoring_openings
from dagsync.model.monitoring import Monitoring
from dagsync.model.server import OpenPort, Server, port_bounds

__all__ = [
    "EDGE_RULE_LIMIT",
    "EdgeCount",
    "EdgePermit",
    "edge_count",
    "edge_permits",
    "edge_rule_count",
    "ipv4_addresses",
    "overflow_index",
]

EDGE_RULE_LIMIT: Final = 20
Range = IPv4Network | IPv6Network


@dataclass(frozen=True)
class EdgePermit:
    """One permit of the layout; ``source`` ``None`` is any, ``ports`` ``None`` is all."""

    protocol: str  # tcp, udp or icmp
    source: IPv4Network | None = None
    ports: tuple[int, int] | None = None
    established: bool = False
    origin: str = field(default="", compare=False)  # established, management, a service, icmp


@dataclass(frozen=True)
class EdgeCount:
    """How many rules a server's layout needs, by origin (for messages)."""

    established: int
    management: int
    declared: int
    icmp: int
    deny: int = 1
    monitoring: int = 0  # the exporters' openings to DAG's monitoring hosts

    @property
    def total(self) -> int:
        return (
            self.established
            + self.management
            + self.monitoring
            + self.declared
            + self.icmp
            + self.deny
        )

    def describe(self) -> str:
        parts = [
            f"{self.established} established",
            f"{self.management} management",
            f"{self.monitoring} monitoring" if self.monitoring else "",
            f"{self.declared} declared permit(s)",
            f"{self.icmp} ICMP" if self.icmp else "",
            f"{self.deny} final deny",
        ]
        return ", ".join(p for p in parts if p)


def ipv4_addresses(server: Server) -> tuple[IPv4Address, ...]:
    """The addresses an edge firewall protects: the server's IPv4 addresses, in order."""
    return tuple(dict.fromkeys(ip for ip in server.ips if isinstance(ip, IPv4Address)))


def _management(ranges: Iterable[Range], ssh_port: int) -> list[EdgePermit]:
    v4 = collapse_addresses(r for r in ranges if isinstance(r, IPv4Network))
    return [EdgePermit("tcp", net, (ssh_port, ssh_port), origin="management") for net in v4]


def _sources(sources: Iterable[object]) -> list[IPv4Network | None]:
    """Merged IPv4 sources of one port: ``[None]`` when any of them is the whole Internet."""
    nets = [s for s in sources if isinstance(s, IPv4Network)]
    if any(s == "any" for s in sources) or any(n.prefixlen == 0 for n in nets):
        return [None]
    return list(collapse_addresses(nets))


def _declared(ports: Sequence[OpenPort]) -> list[EdgePermit]:
    groups: dict[tuple[str, tuple[int, int]], tuple[str, list[object]]] = {}
    for port in ports:
        key = (str(port.protocol), port_bounds(port.port))
        groups.setdefault(key, (port.service, []))[1].extend(port.sources)
    return [
        EdgePermit(protocol, source, bounds, origin=service)
        for (protocol, bounds), (service, sources) in groups.items()
        for source in _sources(sources)
    ]


def _layout(
    ports: Sequence[OpenPort],
    ssh_port: int,
    icmp: bool,
    ranges: Iterable[Range],
    derived: Sequence[OpenPort] = (),
) -> tuple[list[EdgePermit], EdgeCount]:
    established = [EdgePermit("tcp", established=True, origin="established")]
    management = _management(ranges, ssh_port)
    watched = [p for p in dict.fromkeys(_declared(derived)) if p not in management]
    early = management + watched
    declared = [p for p in dict.fromkeys(_declared(ports)) if p not in early]
    pings = [EdgePermit("icmp", origin="icmp")] if icmp else []
    count = EdgeCount(
        len(established), len(management), len(declared), len(pings), monitoring=len(watched)
    )
    return established + early + declared + pings, count


def edge_permits(
    server: Server, management_ranges: Iterable[Range], monitoring: Monitoring | None = None
) -> tuple[EdgePermit, ...]:
    """The permits of the layout, in their preferred order (sequences 0, 1, ...)."""
    fw = server.firewall
    derived = monitoring_openings(server, monitoring)
    return tuple(_layout(fw.open_ports, server.ssh.port, fw.icmp, management_ranges, derived)[0])


def edge_count(
    server: Server, management_ranges: Iterable[Range], monitoring: Monitoring | None = None
) -> EdgeCount:
    fw = server.firewall
    derived = monitoring_openings(server, monitoring)
    return _layout(fw.open_ports, server.ssh.port, fw.icmp, management_ranges, derived)[1]


def edge_rule_count(
    server: Server, management_ranges: Iterable[Range], monitoring: Monitoring | None = None
) -> int:
    """The rules one address of ``server`` needs: its permits plus the final deny."""
    return edge_count(server, management_ranges, monitoring).total


def overflow_index(
    server: Server, management_ranges: Sequence[Range], monitoring: Monitoring | None = None
) -> int | None:
    """The first open port whose permits take the layout past the limit, if any."""
    fw = server.firewall
    derived = monitoring_openings(server, monitoring)
    for index in range(len(fw.open_ports)):
        ports = fw.open_ports[: index + 1]
        layout = _layout(ports, server.ssh.port, fw.icmp, management_ranges, derived)
        if layout[1].total > EDGE_RULE_LIMIT:
            return index
    return None
