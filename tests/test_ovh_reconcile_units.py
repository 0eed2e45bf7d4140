"""The pure parts of the OVH reconciler: the edge layout shared with the validator, the
ordered edge-firewall diff (from tests/data/ovh_reconcile/edge_cases.yaml, and as a property
over random rule tables), the other diffs, and change payloads."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, ip_address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dagsync.model.edge import EDGE_RULE_LIMIT, edge_count, edge_rule_count
from dagsync.model.server import Server
from dagsync.ovhapi.shapes import (
    BackupAccess,
    BackupProtocols,
    BackupStorage,
    EdgeRule,
    Firewall,
    ObservedRule,
    PortRange,
)
from dagsync.reconcile.core import Action, Change, Note
from dagsync.reconcile.ovh.desired import (
    FINAL_DENY,
    EdgeDesired,
    ServerDesired,
    content,
    server_desired,
)
from dagsync.reconcile.ovh.diff import backup_changes, same_range
from dagsync.reconcile.ovh.firewall import (
    EdgeOp,
    decode_rule,
    edge_changes,
    edge_ops,
    encode_rule,
)
from dagsync.reconcile.ovh.observe import BackupObserved, EdgeObserved
from dagsync.validate.repository import Repository, load_repository

PROJECT = Path(__file__).resolve().parents[1]
CASES_FILE = PROJECT / "tests" / "data" / "ovh_reconcile" / "edge_cases.yaml"
DATA: dict[str, Any] = YAML(typ="safe").load(CASES_FILE.read_text())
_RULE = re.compile(
    r"#(?P<seq>\d+) (?P<action>permit|deny) (?P<protocol>\w+) from (?P<source>\S+)"
    r"(?: to port (?P<low>\d+)(?:-(?P<high>\d+))?)?(?P<established> established)?"
    r"(?: \[(?P<state>\w+)\])?$"
)


def rule(text: str) -> ObservedRule:
    """``#2 permit tcp from any to port 443 [creationPending]`` as an observed rule."""
    match = _RULE.match(text)
    assert match, text
    low = match["low"]
    ports = PortRange(int(low), int(match["high"] or low)) if low else None
    edge = EdgeRule(
        int(match["seq"]),
        match["action"],
        match["protocol"],
        match["source"],
        ports,
        tcp_option="established" if match["established"] else None,
    )
    return ObservedRule(edge, match["state"] or "ok")


def desired_edge(texts: Sequence[str]) -> EdgeDesired:
    permits = tuple(rule(t).rule for t in texts)
    return EdgeDesired(DATA["address"], permits, ("declared",) * len(permits), DATA["ssh_port"])


def observed_edge(firewall: str, rules: Sequence[str]) -> EdgeObserved:
    fw = None if firewall == "absent" else Firewall(DATA["address"], firewall == "enabled", "ok")
    return EdgeObserved(DATA["address"], f"{DATA['address']}/32", fw, tuple(rule(r) for r in rules))


def shown(op: EdgeOp) -> str:
    return op.verb if op.rule is None else f"{op.verb} {op.rule.describe()}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    root = tmp_path_factory.mktemp("repo")
    for folder in ("clients", "policies"):
        shutil.copytree(PROJECT / folder, root / folder)
    return load_repository(root)


# -- the layout, shared with rule EDG001 -------------------------------------------------------


def test_validator_count_equals_the_rules_the_reconciler_creates(repo: Repository) -> None:
    ranges = repo.settings.management_ranges
    for config, server in repo.servers():
        desired = server_desired(config.id, server, ranges)
        assert [len(e.rules) for e in desired.edges] == [edge_rule_count(server, ranges)]


def test_shop1_needs_established_management_two_ports_icmp_and_the_deny(
    repo: Repository,
) -> None:
    shop1 = next(s for c, s in repo.servers() if s.name == "shop1")
    desired = server_desired("alpine-books", shop1, repo.settings.management_ranges)
    assert [r.describe() for r in desired.edges[0].rules] == [
        "#0 permit tcp from any established",
        "#1 permit tcp from 192.0.2.0/28 to port 22",
        "#2 permit tcp from 192.0.2.64/29 to port 22",
        "#3 permit tcp from any to port 80",
        "#4 permit tcp from any to port 443",
        "#5 permit icmp from any",
        "#19 deny ipv4 from any",
    ]


def test_sources_of_one_port_are_merged_into_the_fewest_rules(repo: Repository) -> None:
    db1 = next(s for c, s in repo.servers() if s.name == "db1")
    desired = server_desired("velo-savoie", db1, repo.settings.management_ranges)
    mariadb = [r for r in desired.edges[0].permits if r.destination_port == PortRange(3306, 3306)]
    # 203.0.113.41/32 and .42/32 lie inside 203.0.113.32/28, declared on the same port
    assert [r.source for r in mariadb] == ["203.0.113.32/28"]


def _with_sources(server: Server, count: int) -> Server:
    port = server.firewall.open_ports[0].model_copy(
        update={"sources": [IPv4Network(f"198.51.100.{2 * i + 1}/32") for i in range(count)]}
    )
    firewall = server.firewall.model_copy(update={"open_ports": [port]})
    return server.model_copy(update={"firewall": firewall})


@pytest.mark.parametrize("count", [1, 15, 16, 30])
def test_count_and_desired_agree_up_to_the_limit_and_refuse_beyond(
    repo: Repository, count: int
) -> None:
    shop1 = _with_sources(next(s for c, s in repo.servers() if s.name == "shop1"), count)
    ranges = repo.settings.management_ranges
    total = edge_rule_count(shop1, ranges)
    assert total == 5 + count  # established, 2 management, icmp, deny
    desired = server_desired("alpine-books", shop1, ranges)
    if total <= EDGE_RULE_LIMIT:
        assert len(desired.edges[0].rules) == total and desired.error is None
    else:
        assert desired.edges == () and desired.error is not None
        assert f"needs {total} ({edge_count(shop1, ranges).describe()})" in desired.error


# -- the edge-firewall diff, from data ----------------------------------------------------------


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_edge_firewall_diff(case: dict[str, Any]) -> None:
    desired = desired_edge(DATA["desired"])
    observed = observed_edge(case["firewall"], case["observed"])
    ops, _ = edge_ops(desired, observed)
    assert [shown(op) for op in ops] == case["expect"]
    items = edge_changes(desired, observed)
    notes = [i.text for i in items if isinstance(i, Note)]
    for text in case.get("notes", []):
        assert any(text in n for n in notes), notes
    if "ssh_note" in case:
        assert any("touch SSH (tcp/22)" in n for n in notes) == case["ssh_note"], notes


def test_changes_carry_what_the_executor_needs_and_delete_shows_as_destroy() -> None:
    desired = desired_edge(DATA["desired"])
    observed = observed_edge("enabled", DATA["cases"][3]["observed"])
    changes = [i for i in edge_changes(desired, observed) if isinstance(i, Change)]
    assert [(c.action, c.resource) for c in changes] == [
        (Action.CREATE, "203.0.113.10 #4"),
        (Action.DELETE, "203.0.113.10 #2"),
    ]
    assert changes[0].payload["block"] == "203.0.113.10/32"
    assert changes[0].payload["step"] < changes[1].payload["step"]  # created before deleted
    assert decode_rule(changes[0].payload["rule"]) == replace(desired.permits[2], sequence=4)


@pytest.mark.parametrize(
    "edge",
    [
        EdgeRule(0, "permit", "tcp", tcp_option="established"),
        EdgeRule(4, "permit", "udp", "198.51.100.0/24", PortRange(1000, 2000), PortRange(53, 53)),
        EdgeRule(7, "permit", "tcp", None, PortRange(22, 22), fragments=True),
        EdgeRule(9, "deny", "ipv4", packet_length=PortRange(0, 100)),
    ],
)
def test_rule_payloads_read_back_equal(edge: EdgeRule) -> None:
    assert decode_rule(encode_rule(edge)) == edge


# -- the order never opens what is not declared, nor closes what is -----------------------------

PERMITS = [
    EdgeRule(0, "permit", "tcp", tcp_option="established"),
    EdgeRule(0, "permit", "tcp", "192.0.2.0/28", PortRange.single(22)),
    EdgeRule(0, "permit", "tcp", None, PortRange.single(443)),
    EdgeRule(0, "permit", "tcp", None, PortRange.single(80)),
    EdgeRule(0, "permit", "udp", None, PortRange.single(53)),
    EdgeRule(0, "permit", "tcp", "198.51.100.0/24", PortRange(3300, 3310)),
    EdgeRule(0, "permit", "icmp"),
]
DENIES = [
    EdgeRule(0, "deny", "ipv4"),
    EdgeRule(0, "deny", "tcp"),
    EdgeRule(0, "deny", "udp", None, PortRange.single(53)),
    EdgeRule(0, "deny", "tcp", "198.51.100.0/24"),
]
PROBES = [
    (protocol, port, ip_address(source), established)
    for protocol in ("tcp", "udp", "icmp")
    for port in (22, 53, 80, 443, 3306)
    for source in ("192.0.2.5", "198.51.100.7", "203.0.113.9")
    for established in ((False, True) if protocol == "tcp" else (False,))
]
Probe = tuple[str, int, IPv4Address | Any, bool]


def _matches(edge: EdgeRule, probe: Probe) -> bool:
    protocol, port, source, established = probe
    if edge.protocol not in ("ipv4", protocol):
        return False
    if edge.source is not None and source not in IPv4Network(edge.source):
        return False
    ports = edge.destination_port
    if ports is not None and not ports.first <= port <= ports.last:
        return False
    return edge.tcp_option != "established" or established


def allowed(table: Mapping[int, EdgeRule], enabled: bool) -> frozenset[Probe]:
    """What the firewall lets in: first match by sequence; nothing matches: allowed."""
    if not enabled:
        return frozenset(PROBES)
    out = set()
    for probe in PROBES:
        hit = next((table[s] for s in sorted(table) if _matches(table[s], probe)), None)
        if hit is None or hit.action == "permit":
            out.add(probe)
    return frozenset(out)


tables = st.dictionaries(st.integers(0, 19), st.sampled_from(PERMITS + DENIES), max_size=20).map(
    lambda t: {s: replace(r, sequence=s) for s, r in t.items()}
)
wanted = st.lists(st.sampled_from(PERMITS), unique=True, max_size=len(PERMITS))


@settings(max_examples=600, deadline=None)
@given(table=tables, permits=wanted, firewall=st.sampled_from(["absent", "enabled", "disabled"]))
def test_edge_steps_never_open_undeclared_nor_delete_a_declared_permit_without_a_copy(
    table: dict[int, EdgeRule], permits: list[EdgeRule], firewall: str
) -> None:
    desired = EdgeDesired(
        "203.0.113.10",
        tuple(replace(p, sequence=n) for n, p in enumerate(permits)),
        ("declared",) * len(permits),
        22,
    )
    observed = EdgeObserved(
        desired.address,
        "203.0.113.10/32",
        None if firewall == "absent" else Firewall(desired.address, firewall == "enabled", "ok"),
        tuple(ObservedRule(r, "ok") for r in table.values()) if firewall != "absent" else (),
    )
    if firewall == "absent":
        table = {}
    ops, notes = edge_ops(desired, observed)
    edge_case = any(n.startswith("no free sequence") for n in notes)
    final_rules = dict(enumerate(desired.permits)) | {19: FINAL_DENY}
    bound = allowed(table, observed.enabled) | allowed(final_rules, True)
    state, enabled = dict(table), observed.enabled
    for op in ops:
        if op.verb == "enable":
            enabled = True
        elif op.verb == "create" and op.rule is not None:
            assert op.rule.sequence not in state, "created at an occupied sequence"
            state[op.rule.sequence] = op.rule
        elif op.verb == "delete" and op.rule is not None:
            assert state.get(op.rule.sequence) == op.rule, "deleted a rule that is not there"
            del state[op.rule.sequence]
            kind = content(op.rule)
            if kind in {content(p) for p in desired.permits} and not edge_case:
                assert kind in {content(r) for r in state.values()}, "a declared port closed"
        assert len(state) <= 20
        if not edge_case:
            assert allowed(state, enabled) <= bound, f"opened something undeclared at {op}"
    assert enabled
    assert state[19] == FINAL_DENY
    assert sorted(map(content, (r for s, r in state.items() if s != 19)), key=str) == sorted(
        map(content, desired.permits), key=str
    )
    assert allowed(state, True) == allowed(final_rules, True)


# -- inventory, backup storage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "observed", "same"),
    [
        ("advance", "advance-1", True),
        ("advance", "ADVANCE-2", True),
        ("advance-2", "advance-2", True),
        ("advance", "advanced-1", False),
        ("rise", "advance-1", False),
        ("rise", None, False),
    ],
)
def test_declared_range_matches_ovh_range_and_generation(
    declared: str, observed: str | None, same: bool
) -> None:
    assert same_range(declared, observed) is same


def _backup_desired(
    repo: Repository, access: tuple[tuple[str, BackupProtocols], ...]
) -> ServerDesired:
    shop1 = next(s for c, s in repo.servers() if s.name == "shop1")
    desired = server_desired("alpine-books", shop1, repo.settings.management_ranges)
    return replace(desired, backup_access=access)


def test_every_backup_storage_access_is_undeclared_since_borg_uses_ssh(repo: Repository) -> None:
    desired = _backup_desired(repo, ())
    storage = BackupStorage("ftpback-rbx3-1.ovh.net", "included", 500, 0, None)
    found = BackupAccess("203.0.113.10/32", BackupProtocols(ftp=True, nfs=True), True)
    items = backup_changes(desired, BackupObserved(storage, (found,)))
    assert [(c.action, c.summary) for c in items if isinstance(c, Change)] == [
        (
            Action.DELETE,
            "remove the access of 203.0.113.10/32 to ftpback-rbx3-1.ovh.net (allows ftp, nfs)",
        )
    ]
    assert backup_changes(desired, BackupObserved(None, ())) == []


def test_a_declared_backup_access_would_be_created_or_corrected(repo: Repository) -> None:
    nfs = BackupProtocols(nfs=True)
    desired = _backup_desired(repo, (("203.0.113.10/32", nfs),))
    storage = BackupStorage("ftpback-rbx3-1.ovh.net", "included", 500, 0, None)
    wrong = BackupAccess("203.0.113.10/32", BackupProtocols(ftp=True), True)
    fix = backup_changes(desired, BackupObserved(storage, (wrong,)))
    create = backup_changes(desired, BackupObserved(storage, ()))
    assert [(c.action, c.payload["protocols"]) for c in fix if isinstance(c, Change)] == [
        (Action.UPDATE, nfs.request())
    ]
    assert [c.action for c in create if isinstance(c, Change)] == [Action.CREATE]
    assert [type(i) for i in backup_changes(desired, BackupObserved(None, ()))] == [Note]
