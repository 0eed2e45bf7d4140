"""IP reputation (CGV Art. 4, « Suivi de la réputation des Ips publiques du client :
intervention programmée en cas d'alerte »): every public IP of a client's servers looked up
in the DNS blocklists of `policies/dag.yaml` (`ip_reputation`), with dnspython.

A DNS blocklist answers an A record in 127.0.0.0/8 for a listed address (its TXT record
says why) and NXDOMAIN for the others.  A lookup that neither answers nor says NXDOMAIN
(timeout, refused, a server failure) is `unknown`, never "not listed".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import dns.exception
import dns.resolver

from dagsync.reconcile.security.text import visible
from dagsync.validate.repository import ClientConfig

LISTED_RANGE = "127.0.0.0/8"


def query_name(address: IPv4Address | IPv6Address, zone: str) -> str:
    """`5.113.0.203.zen.example` for 203.0.113.5; nibbles reversed for IPv6."""
    return f"{address.reverse_pointer.rsplit('.', 2)[0]}.{zone.rstrip('.')}"


@dataclass(frozen=True)
class Lookup:
    target: str  # client/server
    address: str
    zone: str
    state: str  # "listed", "clean" or "unknown"
    detail: str = ""

    def line(self) -> str:
        """One status line; `detail` comes from DNS answers (escaped by `lookup`)."""
        if self.state == "listed":
            return f"{self.target}: {self.address} is listed by {self.zone} ({self.detail})"
        return f"{self.target}: {self.address} in {self.zone}: unknown ({self.detail})"


def resolver(
    nameservers: Sequence[str], port: int = 53, timeout: float = 2.0
) -> dns.resolver.Resolver:
    """A resolver that asks `nameservers` (none: the machine's configuration)."""
    if not nameservers:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        found.nameservers = list(nameservers)
        found.port = port
    found.lifetime = timeout
    return found


def _txt(ask: dns.resolver.Resolver, name: str) -> str:
    try:
        answer = ask.resolve(name, "TXT")
    except dns.exception.DNSException:
        return ""
    text = " ".join(b.decode(errors="replace") for r in answer for b in r.strings)
    return visible(text)[:300]  # a TXT record is whatever the zone (or a spoofer) says


def lookup(ask: dns.resolver.Resolver, target: str, address: str, zone: str) -> Lookup:
    name = query_name(ip_address(address), zone)
    try:
        answer = ask.resolve(name, "A")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Lookup(target, address, zone, "clean")
    except dns.exception.DNSException as exc:
        return Lookup(target, address, zone, "unknown", type(exc).__name__)
    codes = sorted(r.to_text() for r in answer)
    if not all(ip_address(c) in ip_network(LISTED_RANGE) for c in codes):
        shown = visible(", ".join(codes))
        return Lookup(target, address, zone, "unknown", f"answer outside {LISTED_RANGE}: {shown}")
    reason = _txt(ask, name)
    return Lookup(
        target, address, zone, "listed", ", ".join(codes) + (f": {reason}" if reason else "")
    )


def public_addresses(clients: Iterable[ClientConfig]) -> list[tuple[str, str]]:
    """(client/server, address) for every IP of every server."""
    return [(f"{c.id}/{s.name}", str(ip)) for c in clients for s in c.servers for ip in s.ips]


def check(
    ask: dns.resolver.Resolver, addresses: Sequence[tuple[str, str]], zones: Sequence[str]
) -> list[Lookup]:
    """Every address in every zone; the listed and unknown ones are what status shows."""
    return [lookup(ask, t, a, z) for t, a in addresses for z in zones]
