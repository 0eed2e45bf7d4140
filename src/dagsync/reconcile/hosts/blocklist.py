"""CGV Art. 4 blocklist propagation: which blocked networks land on which server.

A client's blocklist lands on every server of that client; a client that shares its
blocklist network-wide (the default, unless it opted out by request) also has it land on
every server of every other client.

Every entry is checked again here, whatever the validator said (defence in depth, SEC003,
SEC007, REP015): an entry wider than `blocklist_widest` of policies/dag.yaml (`/0` always),
or covering DAG's management ranges, storage or mail hosts, or a server address of another
client, is carried as a `RefusedEntry`; the firewall renderer refuses a server that would
receive one (`refuse_blocked`: an error for that server, not for the run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dagsync.model.policy import DagSettings
from dagsync.model.reserved import Address, blocked_problem
from dagsync.reconcile.resource import BlockedEntry, Net
from dagsync.reconcile.shell import UnsafeValue
from dagsync.validate.repository import ClientConfig


@dataclass(frozen=True)
class RefusedEntry(BlockedEntry):
    """A blocked network that must not be rendered, with why."""

    problem: str = ""


def blocked_for(
    client_id: str, clients: Iterable[ClientConfig], dag: DagSettings | None = None
) -> tuple[BlockedEntry, ...]:
    """The blocked networks of one server of `client_id`, with their origin, sorted; those
    that may not be rendered are `RefusedEntry`s (checked against `dag` when given, and
    always against a `/0` and the other clients' server addresses)."""
    clients = list(clients)
    addresses = [
        (f"server {config.id}/{server.name}", config.id, ip)
        for config in clients
        for server in config.servers
        for ip in server.ips
    ]
    entries: dict[tuple[str, str], BlockedEntry] = {}
    for config in clients:
        network = config.client.network
        if config.id != client_id and not network.share_blocklist_network_wide:
            continue
        others: list[tuple[str, Address]] = [
            (who, ip) for who, owner, ip in addresses if owner != config.id
        ]
        for item in network.blocklist:
            problem = _problem(item.address, dag, others)
            entry = (
                BlockedEntry(item.address, config.id, item.reason)
                if problem is None
                else RefusedEntry(item.address, config.id, item.reason, problem)
            )
            entries.setdefault((str(item.address), config.id), entry)
    return tuple(sorted(entries.values(), key=lambda e: (e.network.version, e.network, e.client)))


def _problem(net: Net, dag: DagSettings | None, others: list[tuple[str, Address]]) -> str | None:
    if dag is not None:
        return blocked_problem(net, dag, others)
    if net.prefixlen == 0:
        return f"{net} is the whole address space"
    return next(
        (
            f"{net} covers {ip}, an address of {who}"
            for who, ip in others
            if ip.version == net.version and ip in net
        ),
        None,
    )


def refuse_blocked(entries: Iterable[BlockedEntry]) -> None:
    """UnsafeValue (this server is not rendered) if any entry is a `RefusedEntry`."""
    refused = [e for e in entries if isinstance(e, RefusedEntry)]
    if refused:
        first = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UnsafeValue(
            f"blocklist entry of client {first.client} refused: {first.problem}{more}; "
            "fix the client's network.blocklist (dagsync validate)"
        )
