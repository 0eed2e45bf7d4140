"""Who may reach what, from the model alone: the sources the repository declares (each open
port's ranges, DAG's management ranges, the blocklists) with one test address each, an address
for "any" that no declaration covers, and, for a server's port and an address, whether the YAML
lets that address reach it (`expected`).  No I/O: `sandbox.reach` probes, this decides.

The expectation is written from the YAML's meaning (CGV Art. 4/6), not from the rendered
nftables: management ranges always reach SSH, a blocked address reaches nothing else, a
declared source reaches its ports, nothing reaches an undeclared port.  The matrix compares
real connects on the sandbox's firewalls with it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from itertools import islice

from dagsync.model.server import OpenPort, Protocol, port_bounds
from dagsync.reconcile.resource import ServerInputs
from dagsync.validate.repository import Repository

ANY = "any"
MANAGEMENT = "management"
# Where the address standing for "any" is taken from: the documentation ranges (RFC 5737),
# from the top, the first address that no declared, management or blocked range covers.
ANY_CANDIDATES = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
UNDECLARED_PORT = 9  # probed on each server as a port nobody declared (discard)


@dataclass(frozen=True)
class Source:
    """One probing address of the sandbox and what it stands for."""

    address: str
    network: IPv4Network | None  # None: "any"
    roles: tuple[str, ...]  # "declared", "management", "blocked by <client>", "any"

    @property
    def label(self) -> str:
        what = ", ".join(self.roles)
        return f"{self.address} ({what})" if self.network is None else f"{self.network} ({what})"


@dataclass(frozen=True)
class PortCheck:
    """One TCP port of one server to probe, and the sources the YAML declares for it."""

    port: int
    shown: str  # "tcp/443 https", "tcp/22 ssh", "tcp/9 (not declared)"
    declared: tuple[str, ...]  # the YAML's sources: "any", "203.0.113.32/28", "management"


def sources(repo: Repository, avoid: Collection[IPv4Address] = ()) -> tuple[Source, ...]:
    """Every IPv4 range the repository names as a source, a management range or a blocked
    network, each with a test address inside it; then the address standing for "any".  No
    test address is one of `avoid` (this machine's own addresses, gateways and neighbours)
    unless a /32 leaves no choice."""
    roles: dict[IPv4Network, list[str]] = {}
    for _config, server in repo.servers():
        for port in server.firewall.open_ports:
            for net in _v4(port.sources):
                _add(roles, net, "declared")
    for net in _v4(repo.settings.management_ranges):
        _add(roles, net, MANAGEMENT)
    for config in repo.clients:
        for item in config.client.network.blocklist:
            for net in _v4([item.address]):
                _add(roles, net, f"blocked by {config.id}")
    networks = sorted(roles, key=lambda n: (int(n.network_address), n.prefixlen))
    out = [Source(str(probe_address(n, networks, avoid)), n, tuple(roles[n])) for n in networks]
    return (*out, Source(str(any_address(networks, avoid)), None, (ANY,)))


def _v4(items: Iterable[object]) -> list[IPv4Network]:
    return [n for n in items if isinstance(n, IPv4Network)]


def _add(roles: dict[IPv4Network, list[str]], net: IPv4Network, role: str) -> None:
    if role not in (known := roles.setdefault(net, [])):
        known.append(role)


def probe_address(
    net: IPv4Network, networks: Sequence[IPv4Network], avoid: Collection[IPv4Address] = ()
) -> IPv4Address:
    """An address of `net` that no narrower range of `networks` covers (so that it stands for
    `net` alone) and that is not one of `avoid`, else `net`'s first usable address."""
    narrower = [n for n in networks if n != net and n.subnet_of(net)]
    candidates = list(islice(net.hosts(), 4096)) if net.prefixlen < 31 else list(net)
    for address in candidates:
        if address not in avoid and not any(address in n for n in narrower):
            return address
    return candidates[0]


def any_address(
    networks: Sequence[IPv4Network], avoid: Collection[IPv4Address] = ()
) -> IPv4Address:
    """An address in none of `networks`: what a source the repository never names sees."""
    for block in ANY_CANDIDATES:
        for address in reversed(list(IPv4Network(block).hosts())):
            if address not in avoid and not any(address in n for n in networks):
                return address
    raise ValueError("every documentation address is declared: no address stands for `any`")


def port_checks(inputs: ServerInputs) -> tuple[PortCheck, ...]:
    """The server's SSH port, each declared TCP port (a range: its first port), and one port
    nobody declared."""
    server = inputs.server
    by_port: dict[int, list[OpenPort]] = {}
    for port in server.firewall.open_ports:
        if port.protocol is Protocol.TCP:
            by_port.setdefault(port_bounds(port.port)[0], []).append(port)
    ssh = server.ssh.port
    checks = [PortCheck(ssh, f"tcp/{ssh} ssh", (MANAGEMENT, *_declared(by_port.pop(ssh, []))))]
    for number, ports in sorted(by_port.items()):
        services = "/".join(dict.fromkeys(p.service for p in ports))
        checks.append(PortCheck(number, f"tcp/{ports[0].port} {services}", _declared(ports)))
    undeclared = next(p for p in range(UNDECLARED_PORT, 65536) if p not in by_port and p != ssh)
    checks.append(PortCheck(undeclared, f"tcp/{undeclared} (not declared)", ()))
    return tuple(checks)


def _declared(ports: Sequence[OpenPort]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(s) for p in ports for s in p.sources))


def not_probed(inputs: ServerInputs) -> tuple[str, ...]:
    """What the matrix cannot probe on this server: UDP ports and IPv6 sources."""
    out = []
    for port in inputs.server.firewall.open_ports:
        if port.protocol is not Protocol.TCP:
            out.append(f"{port.protocol}/{port.port} {port.service} (only TCP is probed)")
        v6 = [str(s) for s in port.sources if isinstance(s, IPv6Network)]
        if v6:
            out.append(f"{port.protocol}/{port.port}: IPv6 sources {', '.join(v6)}")
    return tuple(out)


def expected(inputs: ServerInputs, port: int, address: str) -> bool:
    """Whether the YAML lets `address` reach TCP `port` of this server."""
    ip = IPv4Address(address)
    if port == inputs.server.ssh.port and any(ip in n for n in inputs.management_ranges):
        return True  # before the blocklist: a blocked address can never cut DAG's access
    if any(ip in e.network for e in inputs.blocked):
        return False
    for declared in inputs.server.firewall.open_ports:
        low, high = port_bounds(declared.port)
        if declared.protocol is not Protocol.TCP or not low <= port <= high:
            continue
        if any(s == ANY or (isinstance(s, IPv4Network) and ip in s) for s in declared.sources):
            return True
    return False
