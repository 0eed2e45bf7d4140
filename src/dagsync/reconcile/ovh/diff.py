"""The diff of one server's OVH resources, and of the account's inventory (pure).

Inventory problems (a declared server missing from the account, in another datacenter or
range, an address that is not the server's) are errors, never changes: git is wrong or the
account is, and a person decides. The other resources give changes in execution order:
the edge firewall of each address (:mod:`.firewall`), OVH monitoring, reverse DNS, the
backup-storage access list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from dagsync.ovhapi.reverse import same_reverse
from dagsync.ovhapi.shapes import BackupProtocols, DedicatedServer
from dagsync.reconcile.core import Action, Change, Detail, Note, Unknown
from dagsync.reconcile.ovh import firewall
from dagsync.reconcile.ovh.desired import ServerDesired
from dagsync.reconcile.ovh.observe import BackupObserved, ReverseObserved, ServerObserved, block_of

__all__ = [
    "KIND_BACKUP",
    "KIND_INVENTORY",
    "KIND_MONITORING",
    "KIND_REVERSE",
    "ServerDiff",
    "account_notes",
    "address_problems",
    "placement_problems",
    "same_range",
    "server_diff",
]

KIND_INVENTORY: Final = "ovh-inventory"
KIND_MONITORING: Final = "ovh-monitoring"
KIND_REVERSE: Final = "ovh-reverse"
KIND_BACKUP: Final = "ovh-backup-access"


@dataclass(frozen=True)
class ServerDiff:
    changes: tuple[Change, ...]
    notes: tuple[Note, ...]
    unknown: tuple[tuple[str, str], ...]  # (kind, reason)


# -- inventory --------------------------------------------------------------------------------


def same_range(declared: str, observed: str | None) -> bool:
    """``advance`` matches OVH's ``advance-1``, ``advance-2``... (the range and generation)."""
    if observed is None:
        return False
    want, got = declared.lower(), observed.lower()
    return got == want or got.startswith(want + "-")


def placement_problems(desired: ServerDesired, server: DedicatedServer) -> list[str]:
    """Where the account's server differs from what git declares about it."""
    name, problems = desired.service_name, []
    if server.datacenter.lower() != desired.datacenter.lower():
        problems.append(
            f"{name} is in datacenter {server.datacenter} in the OVH account, "
            f"not {desired.datacenter} as declared"
        )
    if not same_range(desired.commercial_range, server.commercial_range):
        problems.append(
            f"{name} is of range {server.commercial_range or 'unknown'} in the OVH account, "
            f"not {desired.commercial_range} as declared"
        )
    return problems


def address_problems(desired: ServerDesired, blocks: Sequence[str]) -> list[str]:
    return [
        f"{address} is not an address of {desired.service_name} in the OVH account "
        f"(its blocks: {', '.join(blocks) or 'none'})"
        for address in desired.addresses
        if block_of(address, blocks) is None
    ]


def account_notes(account: Iterable[str], declared: Iterable[str]) -> list[Note]:
    known = set(declared)
    return [
        Note(KIND_INVENTORY, f"{name} is in the OVH account but no client declares it")
        for name in sorted(set(account) - known)
    ]


# -- monitoring, reverse DNS, backup storage ---------------------------------------------------


def monitoring_changes(desired: ServerDesired, server: DedicatedServer) -> list[Change]:
    if server.monitoring == desired.monitoring:
        return []
    state = "on" if desired.monitoring else "off"
    why = "CGV Art. 4 supervision" if desired.monitoring else "supervision.ovh_monitoring: false"
    return [
        Change(
            KIND_MONITORING,
            Action.UPDATE,
            desired.service_name,
            f"switch OVH monitoring {state} ({why})",
            (
                Detail("-", f"monitoring: {str(server.monitoring).lower()}"),
                Detail("+", f"monitoring: {str(desired.monitoring).lower()}"),
            ),
            {"service_name": desired.service_name, "enabled": desired.monitoring},
        )
    ]


def reverse_change(name: str, observed: ReverseObserved) -> list[Change]:
    if same_reverse(name, observed.name):
        return []
    details = (Detail("-", observed.name),) if observed.name else ()
    return [
        Change(
            KIND_REVERSE,
            Action.UPDATE if observed.name else Action.CREATE,
            observed.address,
            f"reverse DNS of {observed.address}: {name}",
            (*details, Detail("+", name)),
            {"block": observed.block, "address": observed.address, "name": name},
        )
    ]


def _allows(protocols: BackupProtocols) -> str:
    names = [n for n in ("ftp", "nfs", "cifs") if getattr(protocols, n)]
    return ", ".join(names) or "nothing"


def _access_change(
    desired: ServerDesired, action: Action, block: str, protocols: BackupProtocols, why: str
) -> Change:
    return Change(
        KIND_BACKUP,
        action,
        f"{desired.service_name} {block}",
        why,
        (Detail(" ", f"the backup of this server goes to {desired.backup_storage} over SSH"),),
        {
            "op": str(action),
            "service_name": desired.service_name,
            "ip_block": block,
            "protocols": protocols.request(),
        },
    )


def backup_changes(desired: ServerDesired, observed: BackupObserved) -> list[Change | Note]:
    wanted = dict(desired.backup_access)
    if observed.storage is None:
        if not wanted:
            return []
        text = "the OVH backup storage is not activated, and dagsync does not activate it"
        return [Note(KIND_BACKUP, text)]
    storage = observed.storage.name
    out: list[Change | Note] = []
    for access in observed.access:
        want = wanted.get(access.ip_block)
        if want is None:
            why = f"remove the access of {access.ip_block} to {storage} (allows {_allows(access.protocols)})"
            out.append(
                _access_change(desired, Action.DELETE, access.ip_block, access.protocols, why)
            )
        elif want != access.protocols:
            why = f"allow {_allows(want)} to {access.ip_block} on {storage}"
            out.append(_access_change(desired, Action.UPDATE, access.ip_block, want, why))
    present = {a.ip_block for a in observed.access}
    for block, want in wanted.items():
        if block not in present:
            why = f"allow {_allows(want)} to {block} on {storage}"
            out.append(_access_change(desired, Action.CREATE, block, want, why))
    return out


# -- one server -------------------------------------------------------------------------------


def server_diff(desired: ServerDesired, observed: ServerObserved) -> ServerDiff:
    """The changes of one server in execution order (edge firewall first), notes, unknowns."""
    items: list[Change | Note] = []
    unknown: list[tuple[str, str]] = []
    edges = {e.address: e for e in desired.edges}
    for address, edge in observed.edges:
        if isinstance(edge, Unknown):
            unknown.append((firewall.KIND, f"{address}: {edge.reason}"))
        else:
            items += firewall.edge_changes(edges[address], edge)
    items += monitoring_changes(desired, observed.server)
    names = dict(desired.reverses)
    for address, reverse in observed.reverses:
        if isinstance(reverse, Unknown):
            unknown.append((KIND_REVERSE, f"{address}: {reverse.reason}"))
        else:
            items += reverse_change(names[address], reverse)
    if isinstance(observed.backup, Unknown):
        unknown.append((KIND_BACKUP, observed.backup.reason))
    else:
        items += backup_changes(desired, observed.backup)
    return ServerDiff(
        tuple(i for i in items if isinstance(i, Change)),
        tuple(i for i in items if isinstance(i, Note)),
        tuple(unknown),
    )
