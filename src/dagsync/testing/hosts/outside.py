"""Addresses from outside the test hosts' /24 (an office range, an attacker's address), held by
one test host and reachable from the others, without touching this machine's own network.

``add_outside_addresses`` puts each address on the holder's ``eth0`` as a /32 and, in each peer
host, a /32 route to it on the link (``dev eth0``, no gateway) with a permanent neighbour entry
(the holder's MAC); the holder gets permanent entries for the peers' MACs.  So no ARP ever
carries an outside address, and nothing is added to this machine's root namespace: the bridge
switches unicast frames between the hosts' veths and hands the machine's own stack only frames
sent to the bridge's MAC, which these never are.  A packet between a peer and an outside
address therefore never reaches the machine's routing table, neighbour table or real network,
even when the address is one the machine's own network uses; the hosts keep no default route.
The holder sends from these addresses only to the peers it connects to (``probes.probe_many``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Collection, Sequence
from contextlib import suppress

from dagsync.testing.hosts.network import Network
from dagsync.testing.hosts.system import TestHostsError, _ip_batch, _run

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def outside_address(
    text: str, net: Network, avoid: Collection[ipaddress.IPv4Address] = ()
) -> ipaddress.IPv4Address:
    """An IPv4 unicast address that may stand for an outside source: not in the hosts' own
    /24, nor loopback, link-local, multicast, reserved or unspecified, nor one of ``avoid``
    (``machine_addresses()``)."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise TestHostsError(f"{text!r} is not an IPv4 address") from exc
    own = ipaddress.IPv4Network(f"{net.prefix}.0/24")
    special = (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address == ipaddress.IPv4Address("255.255.255.255")
        or address in ipaddress.IPv4Network("0.0.0.0/8")
    )
    if special or address in own or address in avoid:
        raise TestHostsError(f"{address} cannot stand for an outside source address")
    return address


def add_outside_addresses(
    net: Network, holder: int, peers: Sequence[int], addresses: Sequence[str]
) -> None:
    """Host ``holder`` (an index of ``net``) holds ``addresses``; hosts ``peers`` route them on
    the link.  Idempotent (``replace``): an address already there is left as it is."""
    checked = [str(outside_address(a, net)) for a in addresses]
    others = [p for p in peers if p != holder]
    if not checked:
        return
    holder_mac = _mac(net.namespace(holder))
    lines = [f"addr replace {a}/32 dev eth0" for a in checked]
    lines += [
        f"neigh replace {net.address(p)} lladdr {_mac(net.namespace(p))} dev eth0 nud permanent"
        for p in others
    ]
    _ip_batch(lines, netns=net.namespace(holder))
    routes = [f"route replace {a}/32 dev eth0" for a in checked]
    routes += [f"neigh replace {a} lladdr {holder_mac} dev eth0 nud permanent" for a in checked]
    for peer in others:
        _ip_batch(routes, netns=net.namespace(peer))


def _mac(namespace: str) -> str:
    out = _run(["ip", "-n", namespace, "-j", "link", "show", "eth0"]).stdout
    try:
        mac = str(json.loads(out)[0]["address"])
    except (ValueError, LookupError, TypeError) as exc:
        raise TestHostsError(f"no eth0 MAC address in {namespace}: {out[:200]!r}") from exc
    if not _MAC.fullmatch(mac):
        raise TestHostsError(f"unexpected MAC address {mac!r} in {namespace}")
    return mac


def machine_addresses() -> frozenset[ipaddress.IPv4Address]:
    """The IPv4 addresses this machine's own namespace uses or talks to: its addresses, its
    routes' gateways and preferred sources, its neighbours.  No outside source takes one, so
    that nobody reading a probe mistakes the sandbox's 192.0.2.1 for the machine's gateway."""
    found: set[ipaddress.IPv4Address] = set()
    for argv, keys in (
        (["ip", "-j", "-4", "addr", "show"], ("local",)),
        (["ip", "-j", "-4", "route", "show", "table", "all"], ("gateway", "prefsrc")),
        (["ip", "-j", "-4", "neigh", "show"], ("dst",)),
    ):
        try:
            entries = json.loads(_run(argv, check=False, timeout=10).stdout or "[]")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        for entry in entries:
            for item in [entry, *entry.get("addr_info", [])]:
                for key in keys:
                    with suppress(ValueError, TypeError):
                        found.add(ipaddress.IPv4Address(item.get(key)))
    return frozenset(found)
