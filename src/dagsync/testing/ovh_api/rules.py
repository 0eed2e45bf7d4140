"""Edge firewall rules: the request shape in, the (different) response shape out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagsync.testing.ovh_api.wire import (
    as_bool,
    as_enum,
    as_int,
    as_ipv4_block,
    as_object,
    bad_request,
    reject_unknown,
    require,
)

__all__ = ["MAX_RULES", "PortMatch", "RuleSpec", "parse_rule", "render_rule"]

MAX_RULES = 20
SEQUENCES = range(MAX_RULES)
ACTIONS = frozenset({"permit", "deny"})
PROTOCOLS = frozenset({"ah", "esp", "gre", "icmp", "ipv4", "tcp", "udp"})
TCP_OPTIONS = frozenset({"established", "syn"})
PORT_PROTOCOLS = frozenset({"tcp", "udp"})
RANGE_KEYS = ("from", "to")
REQUEST_FIELDS = frozenset(
    {
        "sequence",
        "action",
        "protocol",
        "source",
        "destinationPort",
        "sourcePort",
        "destinationPortRange",
        "sourcePortRange",
        "l3PacketLength",
        "tcpOption",
    }
)


@dataclass(frozen=True)
class PortMatch:
    """A port or an inclusive port range; rendered ``"eq 22"`` or ``"range 1000 2000"``."""

    low: int
    high: int

    def render(self) -> str:
        return f"eq {self.low}" if self.low == self.high else f"range {self.low} {self.high}"


@dataclass(frozen=True)
class RuleSpec:
    sequence: int
    action: str
    protocol: str
    source: str | None = None
    destination_port: PortMatch | None = None
    source_port: PortMatch | None = None
    l3_packet_length: tuple[int, int] | None = None
    tcp_option: str | None = None
    fragments: bool | None = None


def parse_rule(body: dict[str, Any]) -> RuleSpec:
    """Validate a ``POST .../rule`` body (§9.8 of the reference); any breach is a 400."""
    reject_unknown(body, REQUEST_FIELDS)
    protocol = as_enum("protocol", require(body, "protocol"), PROTOCOLS)
    tcp_option, fragments = _tcp_option(body.get("tcpOption"), protocol)
    source = body.get("source")
    return RuleSpec(
        sequence=as_int("sequence", require(body, "sequence"), 0, MAX_RULES - 1),
        action=as_enum("action", require(body, "action"), ACTIONS),
        protocol=protocol,
        source=None if source is None else str(as_ipv4_block("source", source)),
        destination_port=_port(body, "destinationPort", protocol),
        source_port=_port(body, "sourcePort", protocol),
        l3_packet_length=_range(body.get("l3PacketLength"), "l3PacketLength", 0, 65535),
        tcp_option=tcp_option,
        fragments=fragments,
    )


def _port(body: dict[str, Any], name: str, protocol: str) -> PortMatch | None:
    single, ranged = body.get(name), body.get(f"{name}Range")
    if single is None and ranged is None:
        return None
    if protocol not in PORT_PROTOCOLS:
        raise bad_request(f"{name} is only allowed with tcp or udp, not {protocol}")
    if single is not None and ranged is not None:
        raise bad_request(f"{name} and {name}Range cannot be used together")
    if single is not None:
        port = as_int(name, single, 0, 65535)
        return PortMatch(port, port)
    low, high = _range(ranged, f"{name}Range", 0, 65535) or (0, 0)
    return PortMatch(low, high)


def _range(value: Any, name: str, low: int, high: int) -> tuple[int, int] | None:
    if value is None:
        return None
    bounds = as_object(name, value, RANGE_KEYS)
    start = as_int(f"{name}.from", require(bounds, "from"), low, high)
    end = as_int(f"{name}.to", require(bounds, "to"), low, high)
    if start > end:
        raise bad_request(f"Invalid value for {name}: from ({start}) is greater than to ({end})")
    return start, end


def _tcp_option(value: Any, protocol: str) -> tuple[str | None, bool | None]:
    if value is None:
        return None, None
    if protocol != "tcp":
        raise bad_request(f"tcpOption is only allowed with tcp, not {protocol}")
    option = as_object("tcpOption", value, ("option", "fragments"))
    name = option.get("option")
    fragments = option.get("fragments")
    return (
        None if name is None else as_enum("tcpOption.option", name, TCP_OPTIONS),
        None if fragments is None else as_bool("tcpOption.fragments", fragments),
    )


def render_rule(spec: RuleSpec, destination: str, state: str, creation_date: str) -> dict[str, Any]:
    """The ``ip.FirewallNetworkRule`` response object."""
    length = spec.l3_packet_length
    return {
        "sequence": spec.sequence,
        "action": spec.action,
        "protocol": spec.protocol,
        "source": spec.source or "any",
        "destination": destination,
        "destinationPort": spec.destination_port.render() if spec.destination_port else None,
        "sourcePort": spec.source_port.render() if spec.source_port else None,
        "tcpOption": spec.tcp_option,
        "fragments": spec.fragments,
        "l3PacketLength": None if length is None else {"from": length[0], "to": length[1]},
        "rule": summary(spec, destination),
        "state": state,
        "creationDate": creation_date,
    }


def summary(spec: RuleSpec, destination: str) -> str:
    """A Cisco-ACL-like line, e.g. ``permit tcp 192.0.2.0/24 198.51.100.25/32 eq 22``."""
    words = [spec.action, spec.protocol, spec.source or "any"]
    if spec.source_port:
        words.append(spec.source_port.render())
    words.append(destination)
    if spec.destination_port:
        words.append(spec.destination_port.render())
    if spec.tcp_option:
        words.append(spec.tcp_option)
    if spec.fragments:
        words.append("fragments")
    return " ".join(words)
