"""Value types of the OVH API in dagsync's shape, and their path and rule encodings.

No ``ovh`` import: :class:`EdgeRule` compares a desired rule with an observed one, and
:func:`parse_rule` reads OVH's rule responses back into it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from dagsync.ovhapi.errors import OvhUnexpectedResponse

__all__ = [
    "MAX_EDGE_RULES",
    "RULE_ACTIONS",
    "RULE_PROTOCOLS",
    "TASK_FAILED",
    "TCP_OPTIONS",
    "BackupAccess",
    "BackupProtocols",
    "BackupStorage",
    "DedicatedServer",
    "EdgeRule",
    "Firewall",
    "Mitigation",
    "ObservedRule",
    "PortRange",
    "ReverseDns",
    "ServiceInfo",
    "Task",
    "api_path",
    "parse_rule",
    "query_string",
    "quote_block",
]

MAX_EDGE_RULES: Final = 20
RULE_ACTIONS: Final = frozenset({"permit", "deny"})
RULE_PROTOCOLS: Final = frozenset({"ah", "esp", "gre", "icmp", "ipv4", "tcp", "udp"})
TCP_OPTIONS: Final = frozenset({"established", "syn"})
TASK_FAILED: Final = frozenset({"cancelled", "customerError", "ovhError"})
_ANY_SOURCE: Final = frozenset({"", "any", "0.0.0.0/0"})


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive port range; a single port has ``first == last``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.last <= 65535:
            raise ValueError(f"not a port range: {self.first}-{self.last}")

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(port, port)

    def request(self, name: str) -> dict[str, Any]:
        """``{"destinationPort": 22}`` or ``{"destinationPortRange": {"from": .., "to": ..}}``."""
        if self.first == self.last:
            return {name: self.first}
        return {f"{name}Range": {"from": self.first, "to": self.last}}

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class EdgeRule:
    """One edge-firewall rule, in a shape that compares desired with observed.

    ``source`` is a canonical CIDR or ``None`` (any); ``fragments`` is TCP-only, like
    ``tcp_option``; ports only with tcp or udp. :meth:`request` gives the POST body and
    :func:`parse_rule` turns a response (``"eq 22"``, string ``tcpOption``, top-level
    ``fragments``) back into an equal value.
    """

    sequence: int
    action: str
    protocol: str
    source: str | None = None
    destination_port: PortRange | None = None
    source_port: PortRange | None = None
    tcp_option: str | None = None
    fragments: bool = False
    packet_length: PortRange | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.sequence < MAX_EDGE_RULES:
            raise ValueError(f"rule sequence {self.sequence} is not in 0..{MAX_EDGE_RULES - 1}")
        if self.action not in RULE_ACTIONS or self.protocol not in RULE_PROTOCOLS:
            raise ValueError(f"unknown action or protocol: {self.action} {self.protocol}")
        has_ports = self.destination_port is not None or self.source_port is not None
        if has_ports and self.protocol not in ("tcp", "udp"):
            raise ValueError(f"ports need tcp or udp, not {self.protocol}")
        if (self.tcp_option is not None or self.fragments) and self.protocol != "tcp":
            raise ValueError(f"tcp options need tcp, not {self.protocol}")
        if self.tcp_option is not None and self.tcp_option not in TCP_OPTIONS:
            raise ValueError(f"unknown tcp option {self.tcp_option!r}")
        object.__setattr__(self, "source", _canonical_source(self.source))

    def request(self) -> dict[str, Any]:
        """The ``POST .../rule`` body: ints for ports, ``tcpOption`` as an object."""
        body: dict[str, Any] = {
            "sequence": self.sequence,
            "action": self.action,
            "protocol": self.protocol,
        }
        if self.source is not None:
            body["source"] = self.source
        for name, ports in (
            ("destinationPort", self.destination_port),
            ("sourcePort", self.source_port),
        ):
            body.update(ports.request(name) if ports else {})
        if self.tcp_option is not None or self.fragments:
            option: dict[str, Any] = {"option": self.tcp_option} if self.tcp_option else {}
            body["tcpOption"] = {**option, **({"fragments": True} if self.fragments else {})}
        if self.packet_length is not None:
            body["l3PacketLength"] = {
                "from": self.packet_length.first,
                "to": self.packet_length.last,
            }
        return body

    def describe(self) -> str:
        """``#1 permit tcp from 192.0.2.0/24 to port 22``."""
        words = [f"#{self.sequence}", self.action, self.protocol, "from", self.source or "any"]
        words += [f"port {self.source_port}"] if self.source_port else []
        words += [f"to port {self.destination_port}"] if self.destination_port else []
        words += [self.tcp_option] if self.tcp_option else []
        words += ["fragments"] if self.fragments else []
        words += [f"length {self.packet_length}"] if self.packet_length else []
        return " ".join(words)


@dataclass(frozen=True)
class ObservedRule:
    rule: EdgeRule
    state: str


@dataclass(frozen=True)
class DedicatedServer:
    name: str
    server_id: int
    ip: str
    datacenter: str
    commercial_range: str | None
    monitoring: bool
    state: str
    reverse: str | None


@dataclass(frozen=True)
class ServiceInfo:
    status: str
    expiration: dt.date
    renewal_type: str | None
    automatic_renew: bool | None


@dataclass(frozen=True)
class Firewall:
    address: str
    enabled: bool
    state: str


@dataclass(frozen=True)
class Mitigation:
    address: str
    auto: bool
    state: str


@dataclass(frozen=True)
class ReverseDns:
    address: str
    name: str


@dataclass(frozen=True)
class BackupStorage:
    name: str
    type: str
    quota_gb: float | None
    usage_percent: float | None
    read_only_date: str | None


@dataclass(frozen=True)
class BackupProtocols:
    ftp: bool = False
    nfs: bool = False
    cifs: bool = False

    def request(self) -> dict[str, bool]:
        return {"ftp": self.ftp, "nfs": self.nfs, "cifs": self.cifs}


@dataclass(frozen=True)
class BackupAccess:
    ip_block: str
    protocols: BackupProtocols
    is_applied: bool


@dataclass(frozen=True)
class Task:
    task_id: int
    function: str
    status: str


# -- response parsing -------------------------------------------------------------------------


def _canonical_source(source: str | None) -> str | None:
    """``None`` for any source, else an IPv4 CIDR (a bare address is a /32)."""
    if source is None or source.strip().lower() in _ANY_SOURCE:
        return None
    network = ipaddress.ip_network(source.strip(), strict=False)
    if network.version != 4:
        raise ValueError(f"the edge firewall only filters IPv4 sources, not {source}")
    return str(network)


def _ports(raw: Any) -> PortRange | None:
    """``"eq 22"``, ``"range 1000 2000"``, ``"22"``, ``22`` or ``{"from", "to"}``."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(f"not a port: {raw!r}")
    if isinstance(raw, int):
        return PortRange.single(raw)
    if isinstance(raw, dict):
        return PortRange(int(raw["from"]), int(raw["to"]))
    words = str(raw).replace("-", " ").split()
    if words and words[0] in ("eq", "range"):
        words = words[1:]
    numbers = [int(word) for word in words]
    if len(numbers) not in (1, 2):
        raise ValueError(f"not a port: {raw!r}")
    return PortRange(numbers[0], numbers[-1])


def parse_rule(raw: Any) -> ObservedRule:
    """A ``ip.FirewallNetworkRule`` response as an :class:`ObservedRule`."""
    try:
        words = str(raw.get("tcpOption") or "").split()
        option = next((w for w in words if w in TCP_OPTIONS), None)
        rule = EdgeRule(
            sequence=int(raw["sequence"]),
            action=str(raw["action"]),
            protocol=str(raw["protocol"]),
            source=raw.get("source"),
            destination_port=_ports(raw.get("destinationPort")),
            source_port=_ports(raw.get("sourcePort")),
            tcp_option=option,
            fragments=bool(raw.get("fragments")) or "fragments" in words,
            packet_length=_ports(raw.get("l3PacketLength")),
        )
        return ObservedRule(rule, str(raw["state"]))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise OvhUnexpectedResponse(
            f"unexpected firewall rule from OVH: {raw!r} ({error})"
        ) from None


# -- paths and queries ------------------------------------------------------------------------


def quote_block(block: str) -> str:
    """A path segment for an IP block or any parameter: ``203.0.113.10/32`` -> ``...%2F32``."""
    return quote(block, safe="")


def api_path(template: str, *params: str | int) -> str:
    """``template`` with each parameter quoted as a path segment (see :func:`quote_block`)."""
    return template.format(*(quote_block(str(p)) for p in params))


def query_string(query: Mapping[str, str | int | bool | None]) -> str:
    """``?a=1&b=true`` for the query parameters of a GET (booleans as JSON, ``None`` as null)."""

    def text(value: str | int | bool | None) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "null" if value is None else str(value)

    return "?" + urlencode({k: text(v) for k, v in query.items()}) if query else ""
