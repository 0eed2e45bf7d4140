"""The explicit table of resource kinds: which exist, in which order they are applied.

The firewall comes first: if its change is rolled back (DAG's access was lost), the other
changes of that host are not attempted.  OVH API resources (edge firewall, monitoring,
backup-storage ACL, reverse DNS) and backups/mail will be listed here too, with their
transport.
"""

from __future__ import annotations

from typing import Any

from .resource import HostResource
from .resources import accounts, firewall, rootaccess

HOST_RESOURCES: tuple[HostResource[Any, Any], ...] = (firewall, accounts, rootaccess)


def host_resource(kind: str) -> HostResource[Any, Any]:
    for resource in HOST_RESOURCES:
        if kind == resource.KIND:
            return resource
    raise KeyError(f"unknown resource kind {kind!r}")
