"""Host firewall: one nftables table, `inet dagsync`, owned whole by dagsync.

Inbound policy drop; loopback; the management ranges on the SSH port (before anything that
drops, so a blocked address can never cut DAG's access); the blocked addresses (named sets
`blocked4`/`blocked6`); established and related traffic; ICMP as declared (ICMPv6 neighbour
discovery always, IPv6 needs it); the exporters' ports to DAG's monitoring hosts' addresses only
(derived from the server's supervision, `model.exporters`); each declared open port with its
sources.  Other tables
are left alone.  The file `/etc/nftables.d/dagsync.nft` is what the host loads at boot.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from ipaddress import IPv4Network, IPv6Network, collapse_addresses
from typing import Any

from dagsync.model.exporters import monitoring_openings
from dagsync.model.server import OpenPort
from dagsync.reconcile.core import Action, Change, Detail, DiffOptions, Note, Unknown, lines
from dagsync.reconcile.hosts import confirm
from dagsync.reconcile.hosts.blocklist import refuse_blocked
from dagsync.reconcile.hosts.nft import (
    Chain,
    Match,
    NamedSet,
    Rule,
    Ruleset,
    Table,
    checked,
    parse_ruleset,
    render,
)
from dagsync.reconcile.resource import (
    ApplyOptions,
    CommandResult,
    Executor,
    Net,
    Outcome,
    ServerInputs,
)

KIND = "firewall"
NFT_FILE = "/etc/nftables.d/dagsync.nft"
HEADER = "managed by dagsync: do not edit, changes are overwritten (see the client's YAML)"
_DIGEST = re.compile(r"[0-9a-f]{64}|-|\?")
_ND_TYPES = frozenset({"nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-advert"})


@dataclass(frozen=True)
class FirewallDesired:
    table: Table
    text: str
    origins: tuple[tuple[str, str], ...]  # set element -> where it comes from
    # rule (as rendered) -> why it is there: the port's justification and the client's request
    rule_origins: tuple[tuple[str, str], ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class FirewallObserved:
    ruleset: Ruleset
    file_sha256: str | None  # None: no file on the host
    pending_rollback: bool = False  # an interrupted apply left its rollback timer armed


# --- desired -------------------------------------------------------------------------------


def _split(items: Iterable[Net]) -> tuple[list[IPv4Network], list[IPv6Network]]:
    nets = list(items)
    v4 = [n for n in nets if isinstance(n, IPv4Network)]
    v6 = [n for n in nets if isinstance(n, IPv6Network)]
    return list(collapse_addresses(v4)), list(collapse_addresses(v6))


def _addr_set(name: str, version: int, nets: Sequence[Net]) -> NamedSet:
    kind = "ipv4_addr" if version == 4 else "ipv6_addr"
    return NamedSet(name, kind, frozenset({"interval"}), frozenset(str(n) for n in nets))


def _port_rules(port: OpenPort) -> list[Rule]:
    dport = Match(f"{port.protocol} dport", frozenset({str(port.port)}))
    if "any" in port.sources:
        return [Rule((dport,), "accept", port.service)]
    v4, v6 = _split(s for s in port.sources if s != "any")
    out = []
    for family, nets in (("ip", v4), ("ip6", v6)):
        if nets:
            saddr = Match(f"{family} saddr", frozenset(str(n) for n in nets))
            out.append(Rule((saddr, dport), "accept", port.service))
    return out


def _base_rules(ssh_port: int, icmp: bool) -> tuple[list[Rule], list[Rule]]:
    ssh = Match("tcp dport", frozenset({str(ssh_port)}))
    head = [
        Rule((Match("meta iif", frozenset({"lo"})),), "accept"),
        Rule((Match("ip saddr", frozenset({"@management4"})), ssh), "accept", "management"),
        Rule((Match("ip6 saddr", frozenset({"@management6"})), ssh), "accept", "management"),
        Rule((Match("ip saddr", frozenset({"@blocked4"})),), "drop", "blocklist"),
        Rule((Match("ip6 saddr", frozenset({"@blocked6"})),), "drop", "blocklist"),
        Rule((Match("ct state", frozenset({"established", "related"})),), "accept"),
        Rule((Match("ct state", frozenset({"invalid"})),), "drop"),
    ]
    nd = Rule((Match("icmpv6 type", _ND_TYPES),), "accept", "neighbour-discovery")
    pings = Rule((Match("meta l4proto", frozenset({"icmp", "ipv6-icmp"})),), "accept", "icmp")
    return head, [pings if icmp else nd]


def _open_ports(inputs: ServerInputs) -> list[OpenPort]:
    """The exporters' openings to DAG's monitoring hosts (derived, never declared), then the
    declared open ports."""
    return [
        *monitoring_openings(inputs.server, inputs.monitoring),
        *inputs.server.firewall.open_ports,
    ]


def desired_table(inputs: ServerInputs) -> Table:
    mgmt4, mgmt6 = _split(inputs.management_ranges)
    blocked4, blocked6 = _split(e.network for e in inputs.blocked)
    sets = (
        _addr_set("blocked4", 4, blocked4),
        _addr_set("blocked6", 6, blocked6),
        _addr_set("management4", 4, mgmt4),
        _addr_set("management6", 6, mgmt6),
    )
    head, icmp = _base_rules(inputs.server.ssh.port, inputs.server.firewall.icmp)
    ports = [r for p in _open_ports(inputs) for r in _port_rules(p)]
    rules = tuple(dict.fromkeys([*head, *icmp, *ports]))  # identical declarations once
    chain = Chain("input", "filter", "input", 0, "drop", rules)
    return Table(sets, (chain,))


def desired(inputs: ServerInputs) -> tuple[FirewallDesired, tuple[Note, ...]]:
    refuse_blocked(inputs.blocked)  # UnsafeValue: this server is not rendered
    table = desired_table(inputs)
    text = render(checked(table), f"{inputs.target.key}: {HEADER}")
    origins = tuple((str(e.network), f"{e.client}: {e.reason}") for e in inputs.blocked)
    why = tuple(_rule_origins(inputs))
    return FirewallDesired(table, text, origins, why), tuple(_overlap_notes(inputs))


def _rule_origins(inputs: ServerInputs) -> Iterable[tuple[str, str]]:
    """Each open port's rules, with the justification and the request a reviewer checks."""
    for port in _open_ports(inputs):
        why = inputs.because(port.justification, port.request)
        for rule in _port_rules(port):
            yield rule.render(), why


def _overlap_notes(inputs: ServerInputs) -> Iterable[Note]:
    for port in inputs.server.firewall.open_ports:
        for source in port.sources:
            if source == "any":
                continue
            for entry in inputs.blocked:
                if entry.network.version == source.version and entry.network.overlaps(source):
                    yield Note(
                        KIND,
                        f"{entry.network} (blocked by {entry.client}) overlaps source {source} "
                        f"of port {port.port}/{port.protocol} ({port.service}): it stays blocked",
                    )


# --- read ----------------------------------------------------------------------------------


def read(desired: FirewallDesired) -> str:
    return (
        f"if [ -f {NFT_FILE} ]; then sha256sum {NFT_FILE} || echo '? unreadable'; "
        "else echo '- absent'; fi\n"
        f"{confirm.PENDING_CHECK}\n"
        "nft -j list ruleset\n"
    )


def parse(result: CommandResult) -> FirewallObserved | Unknown:
    if not result.ok:
        return Unknown(f"nft -j list ruleset failed ({result.exit_code}): {result.stderr.strip()}")
    first, _, rest = result.stdout.partition("\n")
    second, _, rest = rest.partition("\n")
    digest = first.split(" ", 1)[0]
    if not _DIGEST.fullmatch(digest) or second not in ("pending yes", "pending no"):
        return Unknown(f"unexpected output: {first[:80]!r} {second[:80]!r}")
    if digest == "?":
        return Unknown(f"{NFT_FILE} cannot be read: {result.stderr.strip()}")
    try:
        ruleset = parse_ruleset(rest)
    except (ValueError, KeyError, TypeError) as exc:
        return Unknown(f"cannot parse nft JSON: {exc}")
    return FirewallObserved(ruleset, None if digest == "-" else digest, second == "pending yes")


def encode(observed: FirewallObserved) -> Any:
    table = observed.ruleset.table
    return {
        "file": observed.file_sha256,
        "table": render(table, "") if table is not None else None,
        "other_tables": list(observed.ruleset.other_tables),
        "pending_rollback": observed.pending_rollback,
    }


# --- diff ----------------------------------------------------------------------------------


TABLE = "table inet dagsync"
_UNCONFIRMED = "an interrupted apply left this ruleset unconfirmed, with its rollback armed"
_FILE_DRIFT = "the file the host loads at boot differs from the live ruleset"


def _change(
    action: Action,
    resource: str,
    summary: str,
    details: tuple[Detail, ...],
    desired: FirewallDesired,
    *,
    reload: bool,
) -> Change:
    payload = {"text": desired.text, "sha256": desired.sha256, "file": NFT_FILE, "reload": reload}
    return Change(KIND, action, resource, summary, details, payload)


def diff(
    desired: FirewallDesired, observed: FirewallObserved, options: DiffOptions
) -> list[Change | Note]:
    live = observed.ruleset.table
    if live is None:
        details = _details(Table((), ()), desired)
        return [_change(Action.CREATE, TABLE, f"create {TABLE}", details, desired, reload=True)]
    if live != desired.table:
        details = _details(live, desired)
        return [_change(Action.UPDATE, TABLE, f"update {TABLE}", details, desired, reload=True)]
    if observed.pending_rollback:
        summary = "confirm the ruleset (reload it commit-confirmed)"
        details = (Detail(" ", _UNCONFIRMED),)
        return [_change(Action.UPDATE, TABLE, summary, details, desired, reload=True)]
    if observed.file_sha256 != desired.sha256:
        summary = f"rewrite {NFT_FILE} (the live ruleset already matches)"
        details = (Detail(" ", _FILE_DRIFT),)
        return [_change(Action.UPDATE, NFT_FILE, summary, details, desired, reload=False)]
    return []


def _details(live: Table, desired: FirewallDesired) -> tuple[Detail, ...]:
    origins = dict(desired.origins)
    why = dict(desired.rule_origins)
    out: list[Detail] = []
    for wanted in desired.table.sets:
        have = live.set(wanted.name)
        before = have.elements if have else frozenset()
        gone = sorted(before - wanted.elements)
        come = sorted(wanted.elements - before)
        out += [Detail("-", f"set {wanted.name}: {e}") for e in gone]
        out += [Detail("+", f"set {wanted.name}: {e}" + _origin(origins, e)) for e in come]
        if have is not None and (have.type, have.flags) != (wanted.type, wanted.flags):
            out.append(Detail("~", f"set {wanted.name}: type or flags differ"))
    wanted_names = {s.name for s in desired.table.sets}
    out += [Detail("-", f"set {s.name}") for s in live.sets if s.name not in wanted_names]
    for chain in desired.table.chains:
        out += _chain_details(live.chain(chain.name), chain, why)
    wanted_chains = {c.name for c in desired.table.chains}
    out += [Detail("-", f"chain {c.name}") for c in live.chains if c.name not in wanted_chains]
    return tuple(out)


def _origin(origins: dict[str, str], element: str) -> str:
    return f"  ({origins[element]})" if element in origins else ""


def _with_origins(sign: str, rules: Sequence[str], why: dict[str, str]) -> list[Detail]:
    """Rule lines; an added rule says why it is there (`because: ...`) under it."""
    out: list[Detail] = []
    for rule in rules:
        out += lines(sign, [rule])
        if sign == "+" and rule in why:
            out.append(Detail(" ", f"    because: {why[rule]}"))
    return out


def _chain_details(have: Chain | None, want: Chain, why: dict[str, str]) -> list[Detail]:
    if have is None:
        added = [r.render() for r in want.rules]
        return [Detail("+", f"chain {want.name}"), *_with_origins("+", added, why)]
    out: list[Detail] = []
    if (have.type, have.hook, have.priority, have.policy) != (
        want.type,
        want.hook,
        want.priority,
        want.policy,
    ):
        out.append(
            Detail(
                "-",
                f"chain {have.name}: {have.type} {have.hook} {have.priority} policy {have.policy}",
            )
        )
        out.append(
            Detail(
                "+",
                f"chain {want.name}: {want.type} {want.hook} {want.priority} policy {want.policy}",
            )
        )
    old = [r.render() for r in have.rules]
    new = [r.render() for r in want.rules]
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            out += [*lines("-", old[i1:i2]), *_with_origins("+", new[j1:j2], why)]
    return out


# --- apply ---------------------------------------------------------------------------------


def apply(executor: Executor, changes: Sequence[Change], options: ApplyOptions) -> list[Outcome]:
    return [confirm.apply_ruleset(executor, change, options) for change in changes]
