"""CGV Art. 4 blocklist propagation: which blocked networks land on which server.

A client's blocklist lands on every server of that client; a client that shares its
blocklist network-wide (the default, unless it opted out by request) also has it land on
every server of every other client.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..repository import ClientConfig
from .resource import BlockedEntry


def blocked_for(client_id: str, clients: Iterable[ClientConfig]) -> tuple[BlockedEntry, ...]:
    """The blocked networks of one server of `client_id`, with their origin, sorted."""
    entries: dict[tuple[str, str], BlockedEntry] = {}
    for config in clients:
        network = config.client.network
        if config.id != client_id and not network.share_blocklist_network_wide:
            continue
        for item in network.blocklist:
            entry = BlockedEntry(item.address, config.id, item.reason)
            entries.setdefault((str(item.address), config.id), entry)
    return tuple(sorted(entries.values(), key=lambda e: (e.network.version, e.network, e.client)))
