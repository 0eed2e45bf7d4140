"""The model -> every host's CrowdSec setup (no I/O): the security host's local APIs, and
each client server's agent and bouncer in its scope (`scope`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network

from dagsync.errors import DagsyncError
from dagsync.model.policy import DagSettings, SecurityHost
from dagsync.model.reserved import dag_addresses
from dagsync.reconcile.security import install
from dagsync.reconcile.security.credentials import Secrets
from dagsync.reconcile.security.crowdsec import DEFAULT_SOURCES, LogSource, Net
from dagsync.reconcile.security.scope import Member, Scope, scopes
from dagsync.validate.repository import ClientConfig, Repository

SourcesOf = Callable[[Member], Sequence[LogSource]]


@dataclass(frozen=True)
class Desired:
    host: SecurityHost
    scopes: tuple[Scope, ...]
    security: install.Setup
    servers: dict[str, install.Setup]  # "client/server" -> setup


def security_host(settings: DagSettings) -> tuple[SecurityHost, str]:
    """The security host that runs the local APIs and the address servers reach it at."""
    if not settings.security_hosts:
        raise DagsyncError("no security_hosts in policies/dag.yaml: CrowdSec has no local API")
    host = settings.security_hosts[0]
    return host, str(host.address) if host.address is not None else host.host


def _dag(settings: DagSettings, host: SecurityHost) -> list[Net]:
    own = [] if host.address is None else [IPv4Network(host.address)]
    return [net for _, net in dag_addresses(settings)] + own


def _servers(configs: Sequence[ClientConfig]) -> list[Net]:
    return [ip_network(ip) for c in configs for s in c.servers for ip in s.ips]


def desired(repo: Repository, secrets: Secrets, sources: SourcesOf | None = None) -> Desired:
    host, address = security_host(repo.settings)
    dag = _dag(repo.settings, host)
    all_scopes = scopes(repo.clients, host.first_port)
    protected = dag + _servers(repo.clients)  # no decision ever bans one of these
    servers: dict[str, install.Setup] = {}
    by_id = {c.id: c for c in repo.clients}
    for scope in all_scopes:
        for member in scope.members:
            allowed = dag + _servers([by_id[member.client]])
            found = sources(member) if sources is not None else DEFAULT_SOURCES
            server = next(s for s in by_id[member.client].servers if s.name == member.server)
            agent = server.security.intrusion_detection
            setup = install.client_server(scope, member, address, secrets, allowed, found, agent)
            servers[f"{member.client}/{member.server}"] = setup
    security = install.security_host(all_scopes, secrets, protected)
    return Desired(host, all_scopes, security, servers)
