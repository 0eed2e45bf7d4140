"""Decision scopes: which client servers share CrowdSec decisions (CGV Art. 4).

« le blocage d'une attaque sur un serveur est répercuté immédiatement sur l'ensemble du réseau
de serveur client, hors demande spécifique du client pour désactiver cette option ».

The scopes partition the client servers, so each server reads decisions from exactly one
CrowdSec local API and sends its alerts to that same one:

- `network`: every server of the clients that propagate blocks and share them network-wide
  (`network.blocklist_propagation` and `network.share_blocklist_network_wide`, the defaults);
- `client.<id>`: the servers of a client that propagates blocks to its own servers only;
- `server.<id>.<server>`: one server of a client that opted out of propagation by request:
  an attack on it is blocked there and nowhere else.

Each scope is one local API on DAG's security host (its own port and database), so a
decision can only reach the servers of its scope: CrowdSec 1.4's bouncers cannot filter
decisions by the machine that raised them.  Ports follow the scopes' order: `network` first,
then clients, then single servers, each sorted by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dagsync.validate.repository import ClientConfig

NETWORK = "network"


@dataclass(frozen=True)
class Member:
    """One client server in a scope."""

    client: str
    server: str
    addresses: tuple[str, ...]

    @property
    def name(self) -> str:
        """The server's name in CrowdSec (machine and bouncer): slugs hold no dot."""
        return f"{self.client}.{self.server}"


@dataclass(frozen=True)
class Scope:
    key: str
    port: int
    members: tuple[Member, ...]

    def has(self, client: str, server: str) -> bool:
        return any(m.client == client and m.server == server for m in self.members)


def _members(config: ClientConfig) -> list[Member]:
    return [
        Member(config.id, s.name, tuple(str(ip) for ip in s.ips))
        for s in sorted(config.servers, key=lambda s: s.name)
    ]


def scopes(clients: Iterable[ClientConfig], first_port: int) -> tuple[Scope, ...]:
    """Every scope with at least one server, with its port (`first_port` upwards)."""
    shared: list[Member] = []
    own: list[tuple[str, list[Member]]] = []
    single: list[tuple[str, list[Member]]] = []
    for config in sorted(clients, key=lambda c: c.id):
        network = config.client.network
        members = _members(config)
        if not network.blocklist_propagation:
            single += [(f"server.{m.name}", [m]) for m in members]
        elif network.share_blocklist_network_wide:
            shared += members
        else:
            own.append((f"client.{config.id}", members))
    groups = ([(NETWORK, shared)] if shared else []) + own + single
    return tuple(
        Scope(key, first_port + index, tuple(members))
        for index, (key, members) in enumerate(groups)
        if members
    )


def scope_of(all_scopes: Iterable[Scope], client: str, server: str) -> Scope:
    """The one scope of a server; KeyError if it has none (it is not in the model)."""
    for scope in all_scopes:
        if scope.has(client, server):
            return scope
    raise KeyError(f"{client}/{server}")


def scopes_of_client(all_scopes: Iterable[Scope], client: str) -> tuple[Scope, ...]:
    """The scopes that hold the client's servers: where a block of that client must go."""
    return tuple(s for s in all_scopes if any(m.client == client for m in s.members))
