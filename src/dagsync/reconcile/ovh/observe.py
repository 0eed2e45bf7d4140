"""The OVH state of the declared servers, read through :mod:`dagsync.ovhapi` (nothing changed).

A read that fails, after the client's retries, gives an :class:`~..core.Unknown` carrying the
error's message (a 403 names the missing access rule): never "absent", so it never causes a
change or a removal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, TypeVar

from dagsync.ovhapi.backup import get_backup_access, get_backup_storage, list_backup_access
from dagsync.ovhapi.client import OvhApi
from dagsync.ovhapi.errors import OvhError
from dagsync.ovhapi.firewall import firewall_rules, get_firewall
from dagsync.ovhapi.reverse import get_reverse
from dagsync.ovhapi.servers import get_server, list_servers, server_ips
from dagsync.ovhapi.shapes import (
    BackupAccess,
    BackupStorage,
    DedicatedServer,
    Firewall,
    ObservedRule,
)
from dagsync.reconcile.core import Unknown
from dagsync.reconcile.ovh.desired import ServerDesired

__all__ = [
    "BackupObserved",
    "EdgeObserved",
    "ReverseObserved",
    "ServerObserved",
    "block_of",
    "encode",
    "list_account",
    "observe_server",
    "read_server",
]

T = TypeVar("T")


@dataclass(frozen=True)
class EdgeObserved:
    """The edge firewall of one address: ``firewall`` is ``None`` when it is not on it."""

    address: str
    block: str
    firewall: Firewall | None
    rules: tuple[ObservedRule, ...]

    @property
    def enabled(self) -> bool:
        """Enabled, or being enabled (``enabled`` flips only when the state is ``ok``)."""
        fw = self.firewall
        if fw is None or fw.state == "disableFirewallPending":
            return False
        return fw.enabled or fw.state == "enableFirewallPending"


@dataclass(frozen=True)
class BackupObserved:
    """The backup storage (``None``: not activated) and its access list."""

    storage: BackupStorage | None
    access: tuple[BackupAccess, ...]


@dataclass(frozen=True)
class ReverseObserved:
    address: str
    block: str
    name: str | None


@dataclass(frozen=True)
class ServerObserved:
    """One server of the account, as read: each part may be unknown on its own."""

    server: DedicatedServer
    blocks: tuple[str, ...] | Unknown
    edges: tuple[tuple[str, EdgeObserved | Unknown], ...]  # per IPv4 address
    backup: BackupObserved | Unknown
    reverses: tuple[tuple[str, ReverseObserved | Unknown], ...]  # per declared reverse


def _read(read: Callable[[], T]) -> T | Unknown:
    try:
        return read()
    except OvhError as error:
        return Unknown(str(error))


def encode(value: Any) -> Any:
    """A JSON-able form of an observed value, for the plan's fingerprints."""
    if isinstance(value, Unknown):
        return {"unknown": value.reason}
    return asdict(value)


def list_account(api: OvhApi) -> tuple[str, ...] | Unknown:
    return _read(lambda: tuple(list_servers(api)))


def read_server(api: OvhApi, service_name: str) -> DedicatedServer | Unknown:
    return _read(lambda: get_server(api, service_name))


def block_of(address: str, blocks: Sequence[str]) -> str | None:
    """The block of ``blocks`` that holds ``address``, the narrowest first."""
    ip = ipaddress.ip_address(address)
    holding = [b for b in blocks if ip in ipaddress.ip_network(b, strict=False)]
    return max(holding, key=lambda b: ipaddress.ip_network(b, strict=False).prefixlen, default=None)


def _edge(api: OvhApi, address: str, block: str) -> EdgeObserved:
    firewall = get_firewall(api, block, address)
    rules = () if firewall is None else tuple(firewall_rules(api, block, address))
    return EdgeObserved(address, block, firewall, rules)


def _backup(api: OvhApi, service_name: str) -> BackupObserved:
    storage = get_backup_storage(api, service_name)
    if storage is None:
        return BackupObserved(None, ())
    found = (
        get_backup_access(api, service_name, block)
        for block in list_backup_access(api, service_name)
    )
    return BackupObserved(storage, tuple(a for a in found if a is not None))


def _reverse(api: OvhApi, address: str, block: str) -> ReverseObserved:
    found = get_reverse(api, block, address)
    return ReverseObserved(address, block, None if found is None else found.name)


def _per_address(
    addresses: Sequence[str],
    blocks: tuple[str, ...] | Unknown,
    read: Callable[[str, str], T],
) -> tuple[tuple[str, T | Unknown], ...]:
    out: list[tuple[str, T | Unknown]] = []
    for address in addresses:
        if isinstance(blocks, Unknown):
            out.append((address, Unknown(f"the IP blocks of the server are unknown: {blocks}")))
            continue
        block = block_of(address, blocks)
        if block is None:
            out.append((address, Unknown(f"{address} is not an address of the server")))
            continue
        out.append((address, _read(partial(read, address, block))))
    return tuple(out)


def observe_server(api: OvhApi, desired: ServerDesired, server: DedicatedServer) -> ServerObserved:
    """Read every resource of one server that exists in the account."""
    name = desired.service_name
    blocks = _read(lambda: tuple(server_ips(api, name)))
    edges = _per_address([e.address for e in desired.edges], blocks, lambda a, b: _edge(api, a, b))
    reverses = _per_address(
        [address for address, _ in desired.reverses], blocks, lambda a, b: _reverse(api, a, b)
    )
    return ServerObserved(server, blocks, edges, _read(lambda: _backup(api, name)), reverses)
