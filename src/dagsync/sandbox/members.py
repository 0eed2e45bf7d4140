"""Who is in the sandbox: one test host per client server and per DAG host, with its name,
role and the site folders its backup needs; and the sandbox's own network."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from dagsync.reconcile.daghosts import dag_members

if TYPE_CHECKING:
    from dagsync.model.server import Server
    from dagsync.testing.hosts.network import Network
    from dagsync.validate.repository import Repository

DEV_SPACE = "/srv/dev-space"  # == dagsync.reconcile.backup.job.DEV_SPACE_PATH


@dataclass(frozen=True)
class Member:
    """One test host of the sandbox."""

    key: str  # its key in the override file: `client/server` or `dag/<name>`
    name: str  # the test host's name
    role: str  # "server", "backup storage" or "mail host"
    site: tuple[str, ...] = ()  # a server's site folders, which its backup requires


def default_network(avoid: Sequence[IPv4Network] = ()) -> Network:
    """Names and a /24 of this sandbox's own (recorded in its state), so that sandboxes of
    several checkouts, and test runs, share one machine; overlapping none of `avoid` (the
    addresses of the sources the repository declares, which the sandbox's sources host
    holds)."""
    # lazy: importing it here keeps dagsync.testing out of this module's load
    from dagsync.testing.hosts.network import unique_network

    return unique_network("sbx", avoid)


def host_name(client: str, server: str, index: int) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{client}-{server}".lower()).strip("-")
    return name[:50] or f"s{index}"


def members(repo: Repository) -> list[Member]:
    """Every server of every client, then DAG's own hosts (storage, mail, monitoring)."""
    pairs = [(c.id, s.name, "server", _site(s)) for c, s in repo.servers()]
    pairs += [("dag", name, role, ()) for name, role in dag_members(repo.settings)]
    return [
        Member(f"{client}/{name}", host_name(client, name, i), role, site)
        for i, (client, name, role, site) in enumerate(pairs, 1)
    ]


def _site(server: Server) -> tuple[str, ...]:
    """The folders a server's site (and dev space) live in, which its backup requires."""
    dev = (DEV_SPACE,) if server.hosts_dev_space else ()
    return (*server.backup.paths, *dev)
