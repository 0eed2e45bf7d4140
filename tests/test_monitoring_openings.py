"""The exporters' ports are opened to DAG's monitoring hosts only, derived from each server's
supervision, never hand-declared: in the host firewall (nftables), on OVH's edge firewall, and
in the validator's edge-rule budget (EDG001), which counts them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from dagsync.model.edge import EdgePermit, edge_permits
from dagsync.reconcile.hosts import firewall
from dagsync.reconcile.hosts.desired import server_inputs
from dagsync.reconcile.ovh.desired import server_desired
from dagsync.reconcile.run import Selection
from dagsync.validate.repository import Repository, load_repository
from rule_findings import copy_repository, edit, findings, restored

PROJECT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
WEB2 = "clients/velo-savoie/servers/web2.yaml"
MON = "198.18.0.10"


def _watched(repo: Repository, *addresses: str) -> Repository:
    """`repo` with its monitoring hosts at `addresses` (a second host is a copy of the first)."""
    mon = repo.settings.monitoring
    assert mon is not None
    hosts = [
        mon.hosts[0].model_copy(update={"name": f"mon{i + 1}", "address": IPv4Address(a)})
        for i, a in enumerate(addresses)
    ]
    settings = repo.settings.model_copy(
        update={"monitoring": mon.model_copy(update={"hosts": hosts})}
    )
    return Repository(repo.root, settings, repo.clients)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return load_repository(PROJECT, validate=False)


def _nft_rules(repo: Repository, client: str, server: str) -> list[str]:
    (inputs,) = server_inputs(repo, Selection((client,), (server,)), NOW)
    desired, _ = firewall.desired(inputs)
    return [r.render() for chain in desired.table.chains for r in chain.rules]


def test_the_host_firewall_opens_exactly_each_exporter_to_the_monitoring_hosts(
    repo: Repository,
) -> None:
    before = _nft_rules(repo, "velo-savoie", "db1")
    after = _nft_rules(_watched(repo, MON, "198.18.0.20"), "velo-savoie", "db1")
    added = [r for r in after if r not in before]
    assert [r for r in before if r not in after] == []
    # db1 declares MariaDB and db_connections: node and mysqld exporters.
    assert added == [
        'ip saddr { 198.18.0.10/32, 198.18.0.20/32 } tcp dport 9100 accept comment "node-exporter"',
        'ip saddr { 198.18.0.10/32, 198.18.0.20/32 } tcp dport 9104 accept comment "mysqld-exporter"',
    ]
    web = _nft_rules(_watched(repo, MON), "velo-savoie", "web1")
    assert [r for r in web if "exporter" in r] == [
        'ip saddr 198.18.0.10/32 tcp dport 9100 accept comment "node-exporter"',
        'ip saddr 198.18.0.10/32 tcp dport 9113 accept comment "nginx-exporter"',
    ]


def test_without_a_monitoring_address_nothing_is_opened(repo: Repository) -> None:
    rules = _nft_rules(repo, "velo-savoie", "db1")
    assert not any("9100" in r or "exporter" in r for r in rules)


def test_the_edge_firewall_opens_the_same_ports_right_after_management(repo: Repository) -> None:
    watched = _watched(repo, MON)
    mon = watched.settings.monitoring
    config = watched.client("cime-conseil")
    prod1 = next(s for s in config.servers if s.name == "prod1")
    ranges = watched.settings.management_ranges
    plain = edge_permits(prod1, ranges)
    permits = edge_permits(prod1, ranges, mon)
    net = IPv4Network(f"{MON}/32")
    assert list(permits[1 + 2 : 1 + 2 + 3]) == [
        EdgePermit("tcp", net, (9100, 9100)),
        EdgePermit("tcp", net, (9187, 9187)),
        EdgePermit("tcp", net, (9117, 9117)),
    ]
    assert [p for p in permits if p not in plain] == list(permits[3:6])
    edge = server_desired("cime-conseil", prod1, ranges, mon).edges[0]
    opened = [(r.source, r.destination_port) for r in edge.rules if r.source == f"{MON}/32"]
    assert [(s, (p.first, p.last) if p else None) for s, p in opened] == [
        (f"{MON}/32", (9100, 9100)),
        (f"{MON}/32", (9187, 9187)),
        (f"{MON}/32", (9117, 9117)),
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("openings"))


@pytest.fixture
def copy(pristine: Path) -> Iterator[Path]:
    with restored(pristine) as root:
        yield root


def test_the_edge_budget_counts_the_exporters_openings(copy: Path) -> None:
    # 1 established + 2 management + (443 from any, 80 from 14 sources) + ICMP + deny = 20
    http = "      sources: [any]\n      public: true\n      justification: Redirect to HTTPS and "
    fourteen = ", ".join(f"198.51.100.{2 * n + 1}/32" for n in range(14))
    edit(
        copy,
        WEB2,
        http,
        f"      sources: [{fourteen}]\n      justification: Redirect to HTTPS and ",
    )
    assert findings(copy, "velo-savoie", "EDG") == []
    edit(
        copy,
        "policies/dag.yaml",
        "      host: mon1.dagtechnologies.example\n",
        f"      host: mon1.dagtechnologies.example\n      address: {MON}\n",
    )
    assert findings(copy, "velo-savoie", "EDG") == [
        (
            "EDG001",
            WEB2,
            37,
            16,
            "web2",
            "OVH's edge firewall holds at most 20 rules per address and 203.0.113.42 needs 22 "
            "(1 established, 2 management, 2 monitoring, 15 declared permit(s), 1 ICMP, 1 final "
            "deny); port 80/tcp (http) does not fit: merge sources into wider blocks, group "
            "ports into a range, or remove openings the client no longer needs",
        )
    ]
