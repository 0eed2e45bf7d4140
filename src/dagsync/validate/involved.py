"""Which clients the repository invariants have to read: those that meet another client.

Every repository invariant (`invariants.repository_findings`) reports where declarations
meet: the same client id, server name, OVH service name or IP twice (also twice in one
client); a mail domain, vhost name, database name or forward domain equal to, or under,
another client's name (REP012-REP014; the quick scan's hints count as names); a forward
source at all (REP013 also fires alone); a blocklist network holding another client's server
address (REP015). A client that meets no other in any of these ways is in no finding and
changes none, so the invariants run on the clients that meet one, with every client they
meet, and find exactly what they find on the whole repository (tests/test_involved.py
compares both on random repositories); on 2,000 clean clients that is none at all.

`Meetings` reads the cached JSON form of the indexes (`ClientEntry.index_json`): the other
clients' `ClientIndex` objects are never built. Clients are added one by one, so a run adds
its cached clients while the changed ones are being checked.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from typing import Any

from dagsync.validate.addresses import address_number, network_span

_UNIQUE = ("servers", "service_names", "ips")  # REP005, REP006, REP010: one declaration each
_NAMES = ("mail_domains", "vhost_names", "databases", "claim_hints")  # tenancy


def _parents(name: str) -> list[str]:
    """The parent domains of `name`, without its top-level label (as `tenancy` looks them up)."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


class Meetings:
    """The clients that meet another client, as clients are added (`add`, then `involved`)."""

    def __init__(self) -> None:
        self._met: set[str] = set()
        self._first: dict[str, dict[str, str]] = {k: {} for k in ("client_id", *_UNIQUE)}
        self._names: dict[str, set[str]] = {}  # name -> clients claiming it
        self._under: dict[str, set[str]] = {}  # domain -> clients claiming a name under it
        # Blocklists: what was added since the last `settle`, and what was settled. An
        # address is one integer, (IP version, number) in order: `version << 128 | number`.
        self._addresses: list[tuple[int, str]] = []  # (address, client)
        self._blocked: list[tuple[str, str]] = []  # (client, network)
        self._settled: list[tuple[int, str]] = []  # every address settled, sorted
        self._spans: list[tuple[int, int, str]] = []  # (first, last, client) settled

    def _meet(self, first: dict[str, str], value: str, folder: str) -> None:
        owner = first.setdefault(value, folder)
        if owner != folder:
            self._met.add(owner)
            self._met.add(folder)

    def _meet_any(self, folders: set[str] | None, folder: str) -> None:
        if folders and (len(folders) > 1 or folder not in folders):
            self._met.update(folders)
            self._met.add(folder)

    def add(self, folder: str, index: Mapping[str, Any]) -> None:
        """Add one client's index (the JSON form: each kind a list of [value, file, path])."""
        client_id = index.get("client_id")
        if client_id is not None:
            self._meet(self._first["client_id"], client_id, folder)
        for kind in _UNIQUE:
            values = [item[0] for item in index.get(kind, ())]
            if len(set(values)) < len(values):
                self._met.add(folder)  # declared twice in this client
            first = self._first[kind]
            for value in values:
                self._meet(first, value, folder)
        self._add_names(folder, index)
        for item in index.get("ips", ()):
            number = address_number(item[0])
            if number is not None:
                self._addresses.append((number[0] << 128 | number[1], folder))
        self._blocked.extend((folder, item[0]) for item in index.get("blocked", ()))

    def _add_names(self, folder: str, index: Mapping[str, Any]) -> None:
        names = {item[0] for kind in _NAMES for item in index.get(kind, ())}
        forwards = index.get("forward_sources", ())
        if forwards:
            self._met.add(folder)  # REP013 looks at every forward source
            names.update(item[0].rpartition("@")[2] for item in forwards)
        claimed, under = self._names, self._under
        for name in names:
            parents = _parents(name)
            self._meet_any(claimed.get(name), folder)  # the same name
            self._meet_any(under.get(name), folder)  # a name under this one
            for parent in parents:  # this name under another's
                self._meet_any(claimed.get(parent), folder)
            claimed.setdefault(name, set()).add(folder)
            for parent in parents:
                under.setdefault(parent, set()).add(folder)

    def involved(self) -> set[str]:
        """The clients the invariants must read: every client that meets another."""
        self.settle()
        return set(self._met)

    def settle(self) -> None:
        """Find the blocklist meetings of what was added since the last call. A run calls
        this once its cached clients are added, while the changed ones are checked: then
        `involved` compares only the changed clients' networks and addresses with the rest."""
        addresses = self._settled + self._addresses
        addresses.sort()
        keys = [address for address, _ in addresses]
        settled = len(self._spans)
        for folder, network in self._blocked:  # new networks, every address
            span = network_span(network)
            if span is None:
                continue
            version, first, last = span
            low = bisect_left(keys, version << 128 | first)
            high = bisect_right(keys, version << 128 | last)
            other = next((f for _, f in addresses[low:high] if f != folder), None)
            if other is not None:  # the first other client's, as `invariants` names it
                self._met.update((folder, other))
            self._spans.append((version << 128 | first, version << 128 | last, folder))
        spans = self._spans[:settled]
        for address, folder in self._addresses:  # new addresses, settled networks
            for first, last, owner in spans:
                if first <= address <= last and owner != folder:
                    self._met.update((owner, folder))  # maybe the first other one now
        self._settled, self._addresses, self._blocked = addresses, [], []


def involved_clients(indexes: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The clients of `indexes` (JSON form) that the repository invariants must read."""
    meetings = Meetings()
    for folder in sorted(indexes):
        meetings.add(folder, indexes[folder])
    return meetings.involved()
