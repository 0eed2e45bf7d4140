"""`dagsync sandbox probe|matrix`: who reaches which port of the sandbox's servers, by real TCP
connects from the sources the repository declares.

The sandbox's `sources` test host holds one address per source (`sandbox.sources`): an address
of each office range, management range and blocked network, and one that no declaration covers
("any").  These are the real addresses of the YAML (203.0.113.40, not a 10.x stand-in), so
that the rulesets the sandbox probes are exactly the ones `plan` renders for production.  That
is safe because nothing outside the sandbox's namespaces ever sees them
(`testing.hosts.outside`): they live on the `sources` host's interface, the servers route them
on the bridge's link, and the machine's own namespace gets no address, route or neighbour for
them; the test hosts have no default route.

A probe is "open" (a service answered), "closed" (the firewall let it through, nothing
listens: a TCP reset), "filtered" (dropped: no answer in time) or "unreachable".  Open and
closed both mean the source reaches the port.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from dagsync.errors import DagsyncError
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.resource import ServerInputs
from dagsync.reconcile.run import Selection
from dagsync.reconcile.transport.inventory import SANDBOX_DIR, SANDBOX_HOSTS_FILE, load_overrides
from dagsync.sandbox.members import members
from dagsync.sandbox.sources import (
    ANY,
    MANAGEMENT,
    PortCheck,
    Source,
    expected,
    not_probed,
    port_checks,
    sources,
)
from dagsync.testing.hosts.network import STATE_FILE, Network
from dagsync.testing.hosts.outside import (
    add_outside_addresses,
    machine_addresses,
    outside_address,
)
from dagsync.testing.hosts.probes import Probe, ProbeResult, probe_many
from dagsync.testing.hosts.system import TestHostsError, run_in_namespace
from dagsync.validate.repository import Repository, load_repository

SOURCES_HOST = "sources"  # the test host holding the source addresses (no member has this name)
PROBE_TIMEOUT = 1.5  # seconds: a SYN unanswered by then was dropped
_WORDS: dict[str, str] = {
    "open": "open",
    "refused": "closed",
    "timeout": "filtered",
    "unreachable": "unreachable",
}


@dataclass(frozen=True)
class Sandbox:
    """The running sandbox as the probes need it: its network, where each member is."""

    network: Network
    indexes: dict[str, int]  # member key ("client/server", "dag/name") -> host index
    sources_index: int

    def namespace(self, key: str) -> str:
        return self.network.namespace(self.indexes[key])

    def address(self, key: str) -> str:
        return self.network.address(self.indexes[key])


def open_sandbox(root: Path, repo: Repository) -> Sandbox:
    """The sandbox's state; an error when it is down or predates the sources host."""
    state_file = root / SANDBOX_DIR / "hosts" / STATE_FILE
    if not state_file.is_file():
        raise DagsyncError("the sandbox is not up: `dagsync sandbox up` first")
    state = json.loads(state_file.read_text())
    names: list[str] = list(state["names"])
    if SOURCES_HOST not in names:
        raise DagsyncError(
            "this sandbox has no sources host (started by an older dagsync): "
            "`dagsync sandbox down`, then `dagsync sandbox up`"
        )
    index = {name: i for i, name in enumerate(names, 1)}
    keys = {m.key: index[m.name] for m in members(repo) if m.name in index}
    return Sandbox(Network(**state["network"]), keys, index[SOURCES_HOST])


def attach(box: Sandbox, addresses: Sequence[str]) -> None:
    """The sources host holds these addresses; every member routes them on the link."""
    try:
        add_outside_addresses(
            box.network, box.sources_index, sorted(box.indexes.values()), addresses
        )
    except TestHostsError as exc:
        raise DagsyncError(f"sandbox sources: {exc}") from exc


def _inputs(root: Path, repo: Repository, client: str | None) -> list[ServerInputs]:
    if not (root / SANDBOX_HOSTS_FILE).is_file():
        raise DagsyncError("the sandbox is not up: `dagsync sandbox up` first")
    overrides = load_overrides(root / SANDBOX_HOSTS_FILE)
    selection = Selection(clients=(client,) if client else ())
    now = dt.datetime.now(dt.UTC)
    found = server_inputs(repo, selection, now, overrides.management_ranges)
    return [i for i in found if i.target.key in overrides.hosts]


def _probe(box: Sandbox, probes: Sequence[Probe]) -> list[ProbeResult]:
    try:
        return probe_many(box.network.namespace(box.sources_index), probes, PROBE_TIMEOUT)
    except TestHostsError as exc:
        raise DagsyncError(f"sandbox probe: {exc}") from exc


def reached(result: ProbeResult) -> bool:
    return result in ("open", "refused")


def status_rows(root: Path) -> list[str]:
    """`sandbox status`'s line for the sources host, when this sandbox has one."""
    try:
        state = json.loads((root / SANDBOX_DIR / "hosts" / STATE_FILE).read_text())
        names, net = list(state["names"]), Network(**state["network"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if SOURCES_HOST not in names:
        return []
    return [f"{'sources (probe, matrix)':<32} {net.address(names.index(SOURCES_HOST) + 1)}"]


# --- probe ---------------------------------------------------------------------------------


def probe(root: Path, origin: str, target: str) -> tuple[str, bool]:
    """`--from ADDRESS|any|management SERVER:PORT`: one line per source address, and whether
    every result is what the YAML declares."""
    repo = load_repository(root, validate=False)
    box = open_sandbox(root, repo)
    name, _, port_text = target.rpartition(":")
    if not name or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise DagsyncError(f"{target!r}: expected SERVER:PORT, e.g. web1:8443")
    inputs = _server(root, repo, name)
    port, key = int(port_text), inputs.target.key
    avoid = machine_addresses()
    chosen = _origins(box, sources(repo, avoid), origin, avoid)
    attach(box, [s.address for s in chosen])
    results = _probe(box, [Probe(s.address, box.address(key), port) for s in chosen])
    lines, ok = [], True
    for source, result in zip(chosen, results, strict=True):
        want = expected(inputs, port, source.address)
        ok = ok and want == reached(result)
        lines.append(
            f"{source.address} -> {key} ({box.address(key)}) tcp/{port}: {_WORDS[result]}"
            f"{_verdict(want, reached(result))} [source: {source.label}]"
        )
    return "\n".join(lines), ok


def _verdict(want: bool, got: bool) -> str:
    said = "lets it in" if want else "keeps it out"
    return f" (the YAML {said})" if want == got else f" MISMATCH: the YAML {said}"


def _server(root: Path, repo: Repository, name: str) -> ServerInputs:
    every = _inputs(root, repo, None)
    found = [i for i in every if name in (i.target.key, i.target.name)]
    if len(found) != 1:
        keys = ", ".join(i.target.key for i in every)
        what = "is ambiguous" if found else "is no server of the sandbox"
        raise DagsyncError(f"{name!r} {what} (servers: {keys})")
    return found[0]


def _origins(
    box: Sandbox, known: Sequence[Source], origin: str, avoid: Collection[IPv4Address]
) -> list[Source]:
    if origin == ANY:
        return [s for s in known if s.network is None]
    if origin == MANAGEMENT:
        return [s for s in known if MANAGEMENT in s.roles]
    try:
        address = outside_address(origin, box.network, avoid)
    except TestHostsError as exc:
        raise DagsyncError(f"--from {origin}: {exc}") from exc
    covering = [s for s in known if s.network is not None and address in s.network]
    roles = tuple(r for s in covering for r in s.roles) or ("no declaration covers it",)
    narrowest = max(covering, key=lambda s: s.network.prefixlen if s.network else 0, default=None)
    return [Source(str(address), narrowest.network if narrowest else None, roles)]


# --- matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One port of one server: who reaches it, against what the YAML declares."""

    target: str
    port: PortCheck
    reached_by: tuple[str, ...]  # source labels
    undeclared: tuple[str, ...]  # reached, though the YAML does not let them
    missing: tuple[str, ...]  # the YAML lets them, they do not reach it

    @property
    def ok(self) -> bool:
        return not self.undeclared and not self.missing


@dataclass(frozen=True)
class Matrix:
    rows: tuple[Row, ...]
    sources: tuple[Source, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def matrix(root: Path, client: str | None = None) -> Matrix:
    """Every declared TCP port of every server (of `client`), probed from every source."""
    repo = load_repository(root, validate=False)
    box = open_sandbox(root, repo)
    every, notes = _outside(box, sources(repo, machine_addresses()))
    attach(box, [s.address for s in every])
    plan: list[tuple[ServerInputs, PortCheck, Source]] = []
    for inputs in _inputs(root, repo, client):
        key = inputs.target.key
        notes += [f"{key}: not probed: {what}" for what in not_probed(inputs)]
        if not _firewall_loaded(box.namespace(key)):
            notes.append(f"{key}: no dagsync firewall loaded (`DAGSYNC_SANDBOX=1 dagsync apply`)")
        plan += [(inputs, check, s) for check in port_checks(inputs) for s in every]
    probes = [Probe(s.address, box.address(i.target.key), c.port) for i, c, s in plan]
    results = _probe(box, probes)
    return Matrix(_rows(plan, results), every, tuple(notes))


def _outside(box: Sandbox, found: Sequence[Source]) -> tuple[tuple[Source, ...], list[str]]:
    """The sources the sources host can hold; a note for each other one (a range declared
    since `up` inside the sandbox's own /24)."""
    kept, notes = [], []
    for source in found:
        try:
            outside_address(source.address, box.network)
        except TestHostsError as exc:
            notes.append(f"source {source.label} not probed: {exc}")
            continue
        kept.append(source)
    return tuple(kept), notes


def _firewall_loaded(namespace: str) -> bool:
    argv = ["nft", "list", "table", "inet", "dagsync"]
    return run_in_namespace(namespace, argv).returncode == 0


def _rows(
    plan: Sequence[tuple[ServerInputs, PortCheck, Source]], results: Sequence[ProbeResult]
) -> tuple[Row, ...]:
    cells: dict[tuple[str, PortCheck], list[tuple[Source, bool, bool]]] = {}
    for (inputs, check, source), result in zip(plan, results, strict=True):
        want = expected(inputs, check.port, source.address)
        cells.setdefault((inputs.target.key, check), []).append((source, reached(result), want))
    return tuple(
        Row(
            target,
            check,
            tuple(s.label for s, got, _ in cell if got),
            tuple(s.label for s, got, want in cell if got and not want),
            tuple(s.label for s, got, want in cell if want and not got),
        )
        for (target, check), cell in cells.items()
    )


def render_text(result: Matrix) -> str:
    lines = []
    for row in result.rows:
        mark = "ok" if row.ok else "MISMATCH"
        declared = ", ".join(row.port.declared) or "nobody"
        lines.append(f"{row.target} {row.port.shown}: {mark} (declared: {declared})")
        lines.append(f"  {_reach_line(row, result.sources)}")
        lines += [f"  UNDECLARED source reaches it: {label}" for label in row.undeclared]
        lines += [f"  DECLARED source cannot reach it: {label}" for label in row.missing]
    lines += [f"note: {n}" for n in result.notes]
    bad = sum(1 for r in result.rows if not r.ok)
    verdict = "every port is reached by its declared sources only"
    lines.append(
        f"{len(result.rows)} port(s) probed from {len(result.sources)} source(s): "
        + (verdict if not bad else f"{bad} mismatch(es)")
    )
    return "\n".join(lines)


def _reach_line(row: Row, every: Sequence[Source]) -> str:
    """The shorter of "reached by X" and "reached by every source but Y (filtered)"."""
    reached_by = set(row.reached_by)
    filtered = [s.label for s in every if s.label not in reached_by]
    if not row.reached_by:
        return "reached by no source"
    if len(filtered) < len(row.reached_by):
        return "reached by every source but: " + (", ".join(filtered) or "none") + " (filtered)"
    return "reached by: " + ", ".join(row.reached_by)


def render_json(result: Matrix) -> str:
    data: dict[str, Any] = {
        "version": 1,
        "ok": result.ok,
        "sources": [
            {
                "address": s.address,
                "network": str(s.network) if s.network else None,
                "roles": list(s.roles),
            }
            for s in result.sources
        ],
        "ports": [
            {
                "target": r.target,
                "port": r.port.port,
                "shown": r.port.shown,
                "declared": list(r.port.declared),
                "reached_by": list(r.reached_by),
                "undeclared": list(r.undeclared),
                "missing": list(r.missing),
                "ok": r.ok,
            }
            for r in result.rows
        ],
        "notes": list(result.notes),
    }
    return json.dumps(data, indent=2)
