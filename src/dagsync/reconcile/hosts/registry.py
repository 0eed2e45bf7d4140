"""The explicit table of host resource kinds: which exist, in which order they are applied.

The firewall comes first: if its change is rolled back (DAG's access was lost), the other
changes of that host are not attempted.  These kinds are reconciled by the engine, one SSH
connection per server; the other drivers (backups, shared mail, OVH) and the order in which
`dagsync plan` / `apply` run them are listed in `dagsync.reconcile.drivers`.
"""

from __future__ import annotations

from typing import Any

from dagsync.reconcile.appstack import databases, system, tls, vhosts
from dagsync.reconcile.hosts import accounts, exporters, firewall, rootaccess
from dagsync.reconcile.resource import HostResource

HOST_RESOURCES: tuple[HostResource[Any, Any], ...] = (
    firewall,
    accounts,
    rootaccess,
    system,
    vhosts,
    tls,
    databases,
    exporters,
)


def host_resource(kind: str) -> HostResource[Any, Any]:
    for resource in HOST_RESOURCES:
        if kind == resource.KIND:
            return resource
    raise KeyError(f"unknown resource kind {kind!r}")
